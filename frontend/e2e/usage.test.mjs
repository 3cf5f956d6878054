// Usage and cost (local models are free, so tokens are charted): usage page (charts, table, CSV), dashboard at a glance,
// then a budget that refuses a send (402): the banner explains, the draft is kept.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { ADMIN, launch, login, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

async function asAdmin(action) {
  const { page, context } = await newUserPage(browser)
  await login(page, ADMIN.email, ADMIN.password)
  await action(page)
  await context.close()
}

test('usage shows spend and tokens; a budget refuses a send and keeps the draft', async (t) => {
  if (!ADMIN.password) return t.skip('ADMIN_EMAIL / ADMIN_PASSWORD not set')
  const email = uniqueEmail('usage')
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Usage User', email })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Counter')
  await page.getByLabel('Max output tokens', { exact: true }).fill('24')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.getByLabel('Message', { exact: true }).fill('Count from one to five.')
  await page.keyboard.press('Enter')
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor({ timeout: 30_000 })
  // The title is written (and its model call recorded) after the answer: wait for it.
  await page.getByTestId('chat-title').filter({ hasNotText: 'New conversation' }).waitFor({ timeout: 30_000 })

  await page.getByRole('link', { name: 'Usage' }).click()
  const table = page.getByTestId('usage-table')
  await table.locator('tbody tr').first().waitFor()
  await page.getByRole('heading', { name: 'Tokens by day' }).waitFor()
  await page.getByText('Counter').first().waitFor()
  await page.waitForTimeout(300)
  await shot(page, 'usage')
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()])
  const csv = await readFile(await download.path(), 'utf8')
  assert.ok(csv.split('\n').length >= 2, 'the CSV has a header and at least one row')

  const stat = async (id) => (await page.getByTestId(id).locator('p').nth(1).textContent()).trim()
  const onUsagePage = { spend: await stat('stat-spend'), tokens: await stat('stat-tokens'), calls: await stat('stat-calls') }
  assert.equal(onUsagePage.calls, '2', 'the answer and its title')

  await page.getByRole('link', { name: 'Dashboard' }).click()
  await page.getByTestId('usage-glance').waitFor()
  // The dashboard and the usage page read the same API for the same month: the numbers agree.
  const glance = async (id) => (await page.getByTestId(id).textContent()).trim()
  assert.deepEqual({ spend: await glance('glance-spend'), tokens: await glance('glance-tokens'), calls: await glance('glance-calls') }, onUsagePage)
  await shot(page, 'dashboard-usage')

  // An administrator sets this user's daily token budget to 1: the next send is refused (402).
  await asAdmin(async (admin) => {
    await admin.goto('/admin/budgets')
    await admin.getByLabel('User', { exact: true }).selectOption({ label: `Usage User (${email})` })
    await admin.getByText('In force:').first().waitFor()
    await admin.getByLabel('Daily tokens: kind of limit').last().selectOption('limit')
    await admin.getByLabel('Daily tokens', { exact: true }).last().fill('1')
    await admin.getByRole('button', { name: 'Save overrides' }).click()
    await admin.getByRole('status').filter({ hasText: 'User budget saved' }).waitFor()
  })
  await page.goto('/chat')
  await page.getByTestId('conversation-item').first().click()
  await page.getByLabel('Message', { exact: true }).fill('One more, please.')
  await page.keyboard.press('Enter')
  const banner = page.getByTestId('chat-error')
  await banner.waitFor()
  assert.equal(await banner.getAttribute('data-code'), 'budget_exceeded')
  assert.match(await banner.textContent(), /Budget reached/)
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'One more, please.')
  assert.equal(await page.locator('[data-testid="message"][data-role="user"]').count(), 1)
  await shot(page, 'chat-budget')
  assert.deepEqual(errors, [])
  await context.close()
})
