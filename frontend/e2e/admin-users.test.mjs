// Administration (issue 17): create a user, invite by a one-time link, a password reset link, delete a
// user with confirmation; all in the admin log.
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

async function linkFromDialog(page) {
  const dialog = page.getByTestId('link-dialog')
  await dialog.waitFor()
  const url = await page.getByTestId('account-link').inputValue()
  await dialog.getByRole('button', { name: 'Done' }).click()
  return new URL(url).pathname
}

test('an administrator creates, invites, resets and deletes users; the log shows it all', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await login(page, ADMIN.email, ADMIN.password)
  await page.goto('/admin')

  // Create a user, who can then sign in.
  const made = uniqueEmail('made')
  await page.getByRole('button', { name: 'New user' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('Name', { exact: true }).fill('Made User')
  await dialog.getByLabel('Email', { exact: true }).fill(made)
  await dialog.getByLabel('Password', { exact: true }).fill('short')
  await dialog.getByRole('button', { name: 'Create user' }).click()
  await dialog.getByTestId('field-error').waitFor()
  await dialog.getByLabel('Password', { exact: true }).fill('made-user-pass-1')
  await dialog.getByRole('button', { name: 'Create user' }).click()
  await page.getByTestId('admin-user').filter({ hasText: made }).waitFor()

  // Invite by link: a stranger creates the account through it, once.
  const invited = uniqueEmail('invited')
  await page.getByLabel(/Invite by link/).fill(invited)
  await page.getByRole('button', { name: 'Create invitation link' }).click()
  await shot(page, 'admin-invite-link')
  const invitePath = await linkFromDialog(page)
  const stranger = await newUserPage(browser)
  await stranger.page.goto(invitePath)
  await stranger.page.getByLabel('Name', { exact: true }).fill('Invited Person')
  assert.equal(await stranger.page.getByLabel('Email', { exact: true }).inputValue(), invited)
  await stranger.page.getByLabel('Password', { exact: true }).fill('invited-pass-1')
  await stranger.page.getByRole('button', { name: 'Create account' }).click()
  await stranger.page.waitForURL((url) => url.pathname === '/login')
  await login(stranger.page, invited, 'invited-pass-1')
  await stranger.page.goto(invitePath)
  await stranger.page.getByTestId('link-invalid').waitFor()
  await stranger.context.close()

  // A password reset link for the created user.
  await page.reload()
  await page.getByTestId('admin-user').filter({ hasText: made }).getByRole('button', { name: 'Password reset link' }).click()
  const resetPath = await linkFromDialog(page)
  const owner = await newUserPage(browser)
  await owner.page.goto(resetPath)
  await owner.page.getByLabel('New password', { exact: true }).fill('made-user-pass-2')
  await owner.page.getByRole('button', { name: 'Set password' }).click()
  await owner.page.waitForURL((url) => url.pathname === '/login')
  await login(owner.page, made, 'made-user-pass-2')
  await owner.context.close()

  // Delete the invited user after typing their email.
  const row = page.getByTestId('admin-user').filter({ hasText: invited })
  await row.getByRole('button', { name: 'Delete Invited Person' }).click()
  const confirm = page.getByRole('dialog')
  assert.equal(await confirm.getByRole('button', { name: 'Delete user' }).isDisabled(), true)
  await confirm.getByLabel('Email of the account').fill(invited)
  await shot(page, 'admin-delete-user')
  await confirm.getByRole('button', { name: 'Delete user' }).click()
  await row.waitFor({ state: 'detached' })

  await page.getByRole('link', { name: 'Log' }).click()
  await page.waitForURL((url) => url.pathname === '/admin/log')
  await page.getByTestId('audit-event').first().waitFor()
  const log = (await page.getByTestId('audit-event').allTextContents()).join('\n')
  assert.match(log, new RegExp(`deleted the account of\\s+${invited}`))
  assert.match(log, new RegExp(`made a password reset link for\\s+${made}`))
  assert.match(log, new RegExp(`invited\\s+${invited}`))
  assert.match(log, new RegExp(`created the account of\\s+${made}`))
  await shot(page, 'admin-log')
  assert.deepEqual(errors, [])
  await context.close()
})

test('a non-administrator cannot reach the admin log', async () => {
  const { page, context } = await newUserPage(browser)
  await register(page, { name: 'Plain', email: uniqueEmail('plain') })
  await page.goto('/admin/log')
  await page.waitForURL((url) => url.pathname === '/')
  await context.close()
})
