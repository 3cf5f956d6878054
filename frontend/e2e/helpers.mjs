// Shared set-up for the e2e specs: one chromium (Debian's) per test file, one context per user.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8000'
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? ''

/** Created by scripts/run-e2e.sh with `agentcreator create-admin` before the tests. */
export const ADMIN = { email: process.env.ADMIN_EMAIL ?? '', password: process.env.ADMIN_PASSWORD ?? '' }

export const LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
}

export function launch() {
  return chromium.launch(LAUNCH)
}

/** A fresh browser context (its own storage: a separate user) and page. Dialogs are recorded. */
export async function newUserPage(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport, colorScheme: 'light' })
  context.setDefaultTimeout(10_000)
  const page = await context.newPage()
  const dialogs = []
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  const errors = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (msg) => {
    // Failed requests (an expected 401 or 422) are logged by the browser itself: not app errors.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text())
  })
  return { context, page, dialogs, errors }
}

let counter = 0
export function uniqueEmail(prefix) {
  counter += 1
  return `${prefix}-${Date.now().toString(36)}-${counter}@example.com`
}

export async function register(page, { name, email, password = 'correct-horse-9' }) {
  await page.goto('/register')
  // A fresh browser's first page load can be slow when the machine is busy: wait longer for it.
  await page.getByLabel('Name', { exact: true }).waitFor({ timeout: 30_000 })
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('Email', { exact: true }).fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByLabel('Confirm password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL((url) => url.pathname === '/')
}

export async function login(page, email, password) {
  await page.goto('/login')
  await page.getByLabel('Email', { exact: true }).waitFor({ timeout: 30_000 })
  await page.getByLabel('Email', { exact: true }).fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => url.pathname === '/')
}

export async function createAssistant(page, name, description = '') {
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill(name)
  if (description) await page.getByLabel('Description', { exact: true }).fill(description)
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
}

/** Save a screenshot to SCREENSHOT_DIR when set (run-e2e.sh: a temporary dir, or docs/screenshots with SCREENSHOTS=1). */
export async function shot(page, name) {
  if (!SCREENSHOT_DIR) return
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  await page.waitForLoadState('networkidle')
  // Dismiss notifications and park the pointer, as a person would before a screenshot.
  await page.evaluate(() => document.querySelectorAll('[data-toast] button').forEach((b) => b.click()))
  await page.mouse.move(0, 0)
  await page.waitForTimeout(250)
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false })
}
