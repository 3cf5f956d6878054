// Sessions: reload keeps you signed in (silent refresh), sign-out, and a mobile layout check.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test('a reload restores the session from the refresh token; sign out ends it', async () => {
  const { page, context } = await newUserPage(browser)
  const email = uniqueEmail('reload')
  await register(page, { name: 'Reload Tester', email })
  await page.reload()
  await page.getByRole('heading', { name: 'Welcome, Reload Tester' }).waitFor()
  // The refresh token is in an HttpOnly cookie scoped to the refresh path: no script can read it.
  const refresh = (await context.cookies()).find((c) => c.name === 'ac_refresh')
  assert.ok(refresh && refresh.httpOnly && refresh.sameSite === 'Strict' && refresh.path === '/api/auth/refresh')
  assert.equal(await page.evaluate(() => localStorage.getItem('ac.refresh')), null)
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('ac_refresh'))

  await page.getByRole('button', { name: /Reload Tester/ }).click()
  await page.getByRole('menuitem', { name: 'Sign out' }).click()
  await page.waitForURL((url) => url.pathname === '/login')
  assert.ok(!(await context.cookies()).some((c) => c.name === 'ac_refresh'))

  // Wrong password: a clear message; the right one signs in.
  await page.getByLabel('Email', { exact: true }).fill(email)
  await page.getByLabel('Password', { exact: true }).fill('not-the-password-1')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').waitFor()
  await page.getByLabel('Password', { exact: true }).fill('correct-horse-9')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => url.pathname === '/')
  await context.close()
})

test('registration shows field-level errors from the API', async () => {
  const { page, context } = await newUserPage(browser)
  await page.goto('/register')
  await page.getByLabel('Name', { exact: true }).fill('Weak Password')
  await page.getByLabel('Email', { exact: true }).fill(uniqueEmail('weak'))
  await page.getByLabel('Password', { exact: true }).fill('short')
  await page.getByLabel('Confirm password', { exact: true }).fill('short')
  await page.getByRole('button', { name: 'Create account' }).click()
  const password = page.getByLabel('Password', { exact: true })
  await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]') !== null)
  assert.equal(await password.getAttribute('aria-invalid'), 'true')
  await page.getByText(/at least \d+ characters/).first().waitFor()
  await shot(page, 'register-errors')
  await context.close()
})

test('the app works at phone width, in dark mode', async () => {
  const { page, context, errors } = await newUserPage(browser, { width: 390, height: 844 })
  await register(page, { name: 'Phone User', email: uniqueEmail('phone') })
  await page.getByRole('button', { name: 'Switch to dark mode' }).click()
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('dark')), true)
  await page.getByRole('button', { name: 'Open menu' }).click()
  await page.getByRole('link', { name: 'Assistants' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.reload()
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('dark')), true)
  await page.getByText('No assistants yet').waitFor()
  await shot(page, 'assistants-mobile-dark')
  assert.deepEqual(errors, [])
  await context.close()
})
