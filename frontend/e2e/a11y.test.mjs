// Accessibility (WCAG 2.2 AA, issue 17): axe-core on every page and main dialog, in light and dark mode
// and at phone width; any serious or critical violation fails. axe-core is a devDependency; it is read
// from node_modules (or AXE_CORE_PATH) and injected into the page.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { after, before, test } from 'node:test'
import { ADMIN, launch, login, newUserPage, shot, uniqueEmail } from './helpers.mjs'

function axeSource() {
  if (process.env.AXE_CORE_PATH) return readFileSync(process.env.AXE_CORE_PATH, 'utf8')
  return readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
}

const AXE = axeSource()
const MODES = [
  { name: 'light', viewport: { width: 1280, height: 800 }, theme: 'light' },
  { name: 'dark', viewport: { width: 1280, height: 800 }, theme: 'dark' },
  { name: 'phone', viewport: { width: 390, height: 844 }, theme: 'light' },
]

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

/** Serious and critical violations on what the page shows now, as readable lines. */
async function audit(page, label) {
  await page.waitForLoadState('networkidle')
  await page.waitForTimeout(300) // transitions (dialogs, toasts) settle
  // Evaluated through the DevTools protocol: the app's CSP (no inline script) stays on while axe runs.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE)
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } })
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} ${n.failureSummary?.split('\n')[1] ?? ''}`).join(' | ')}`)
  })
  return violations.map((v) => `[${label}] ${v}`)
}

async function chatWithAnswer(page, name) {
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('Max output tokens', { exact: true }).fill('12')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: name }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.getByLabel('Message', { exact: true }).fill('Say hi.')
  await page.waitForFunction(() => document.querySelector('button[aria-label="Send (Enter)"]')?.disabled === false)
  await page.keyboard.press('Enter')
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor({ timeout: 60_000 })
  return new URL(page.url()).pathname
}

for (const mode of MODES) {
  test(`no serious or critical axe violations (${mode.name})`, async () => {
    const found = []
    const guest = await newUserPage(browser, mode.viewport)
    await guest.page.goto('/login')
    await guest.page.evaluate((t) => localStorage.setItem('ac.theme', t), mode.theme)
    for (const path of ['/login', '/register']) {
      await guest.page.goto(path)
      await guest.page.getByRole('button').first().waitFor()
      found.push(...await audit(guest.page, `${mode.name} ${path}`))
    }
    await guest.context.close()

    const { page, context } = await newUserPage(browser, mode.viewport)
    await page.goto('/login')
    await page.evaluate((t) => localStorage.setItem('ac.theme', t), mode.theme)
    await login(page, ADMIN.email, ADMIN.password)
    const chat = await chatWithAnswer(page, `Checked ${mode.name}`)
    found.push(...await audit(page, `${mode.name} ${chat}`))
    await page.getByRole('button', { name: 'Tokens and cost' }).last().click()
    found.push(...await audit(page, `${mode.name} chat cost popover`))
    await page.keyboard.press('Escape')
    await page.getByTestId('chat-title').click()
    await page.keyboard.press('?')
    await page.getByTestId('shortcuts-dialog').waitFor()
    found.push(...await audit(page, `${mode.name} shortcuts dialog`))
    await page.keyboard.press('Escape')
    const pages = ['/', '/assistants', '/assistants/new', '/chat', '/files', '/knowledge', '/usage', '/settings', '/admin',
      '/admin/providers',
      '/admin/prices', '/admin/budgets', '/admin/log', '/nowhere']
    for (const path of pages) {
      await page.goto(path)
      await page.locator('main').first().waitFor()
      await page.locator('h1').first().waitFor({ state: 'attached' })
      found.push(...await audit(page, `${mode.name} ${path}`))
    }
    await page.goto('/admin')
    await page.getByRole('button', { name: 'New user' }).click()
    await page.getByRole('button', { name: 'Create user' }).waitFor()
    found.push(...await audit(page, `${mode.name} new user dialog`))
    await page.keyboard.press('Escape')
    await page.getByLabel(/Invite by link/).fill(uniqueEmail('a11y'))
    await page.getByRole('button', { name: 'Create invitation link' }).click()
    await page.getByTestId('link-dialog').waitFor()
    found.push(...await audit(page, `${mode.name} invitation link dialog`))
    await shot(page, `a11y-${mode.name}-link-dialog`)
    await context.close()
    assert.deepEqual(found, [], `axe found:\n${found.join('\n')}`)
  })
}
