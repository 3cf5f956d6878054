// Registration with approval: the new account waits, cannot sign in (and is told why), an
// administrator approves it, then it signs in. The owner of an email someone tried to register again
// finds a notice at the next sign-in.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ADMIN, launch, login, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

async function setApproval(page, on) {
  await page.goto('/admin')
  // Enabled once the settings have loaded (until then it shows "off" whatever they are).
  const toggle = page.getByRole('switch', { name: 'Approve new accounts', disabled: false })
  await toggle.waitFor()
  if ((await toggle.getAttribute('aria-checked')) !== String(on)) {
    await toggle.click()
    await page.getByRole('status').filter({ hasText: on ? 'wait for approval' : 'right away' }).waitFor()
  }
}

test('a registration waits for approval, then signs in', async (t) => {
  if (!ADMIN.password) return t.skip('ADMIN_EMAIL / ADMIN_PASSWORD not set')
  const admin = await newUserPage(browser)
  await login(admin.page, ADMIN.email, ADMIN.password)
  await setApproval(admin.page, true)
  const newcomer = await newUserPage(browser)
  const email = uniqueEmail('waiting')
  try {
    const { page } = newcomer
    await page.goto('/register')
    await page.getByText('An administrator approves new accounts before they can sign in.').waitFor({ timeout: 30_000 })
    await page.getByLabel('Name', { exact: true }).fill('Wanda Waiting')
    await page.getByLabel('Email', { exact: true }).fill(email)
    await page.getByLabel('Password', { exact: true }).fill('correct-horse-9')
    await page.getByLabel('Confirm password', { exact: true }).fill('correct-horse-9')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByTestId('registration-pending').getByText(/approves new accounts/).waitFor()
    await shot(page, 'register-pending-approval')

    await page.goto('/login')
    await page.getByLabel('Email', { exact: true }).fill(email)
    await page.getByLabel('Password', { exact: true }).fill('correct-horse-9')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: /waiting for an administrator's approval/ }).waitFor()

    await admin.page.goto('/admin')
    await admin.page.getByTestId('pending-only').check()
    const row = admin.page.getByTestId('admin-user').filter({ hasText: email })
    await row.getByText('Waiting for approval').waitFor()
    await shot(admin.page, 'admin-pending-approval')
    await row.getByRole('button', { name: `Approve ${email}` }).click()
    await admin.page.getByRole('status').filter({ hasText: 'can sign in now' }).waitFor()

    await login(page, email, 'correct-horse-9')
    assert.deepEqual(newcomer.errors, [])
    assert.deepEqual(admin.errors, [])
  } finally {
    await setApproval(admin.page, false)
    await newcomer.context.close()
    await admin.context.close()
  }
})

test('registering an existing email looks like success and the owner is told at sign-in', async () => {
  const owner = { name: 'Olive Owner', email: uniqueEmail('owner') }
  const first = await newUserPage(browser)
  await register(first.page, owner)
  await first.context.close()

  const stranger = await newUserPage(browser)
  const { page } = stranger
  await page.goto('/register')
  await page.getByLabel('Name', { exact: true }).waitFor({ timeout: 30_000 })
  await page.getByLabel('Name', { exact: true }).fill('Mallory')
  await page.getByLabel('Email', { exact: true }).fill(owner.email)
  await page.getByLabel('Password', { exact: true }).fill('another-horse-77')
  await page.getByLabel('Confirm password', { exact: true }).fill('another-horse-77')
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('alert').filter({ hasText: 'We could not sign you in with this email and password' }).waitFor()
  assert.doesNotMatch(await page.content(), /already exists|already registered/i)
  await stranger.context.close()

  const back = await newUserPage(browser)
  await login(back.page, owner.email, 'correct-horse-9')
  const notice = back.page.getByTestId('account-notice')
  await notice.getByText(/Someone tried to create an account with your email/).waitFor()
  await shot(back.page, 'account-notice')
  await notice.getByRole('button', { name: 'Dismiss' }).click()
  await notice.waitFor({ state: 'detached' })
  await back.page.reload()
  await back.page.getByRole('heading').first().waitFor()
  assert.equal(await back.page.getByTestId('account-notice').count(), 0)
  await back.context.close()
})
