// Administration of providers, prices and budgets, as the administrator made by run-e2e.sh.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ADMIN, launch, login, newUserPage, shot } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test('an administrator adds, tests, edits and deletes a provider; the key is never shown back', async (t) => {
  if (!ADMIN.password) return t.skip('ADMIN_EMAIL / ADMIN_PASSWORD not set')
  const { page, context, errors } = await newUserPage(browser)
  await login(page, ADMIN.email, ADMIN.password)
  await page.goto('/admin/providers')
  await page.getByTestId('provider').first().waitFor()

  await page.getByRole('button', { name: 'Add provider' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('Name', { exact: true }).fill('acme')
  await dialog.getByLabel('Kind').selectOption('openai_compatible')
  await dialog.getByLabel('Base URL', { exact: true }).fill('http://127.0.0.1:9/v1')
  await dialog.getByLabel('API key', { exact: true }).fill('sk-very-secret-123')
  await dialog.getByRole('button', { name: 'Add model' }).click()
  await dialog.getByLabel('Model 1 name').fill('acme-chat')
  await dialog.getByRole('button', { name: 'Add provider' }).click()
  // A loopback address is asked about, not silently refused (docs/security.md).
  const ask = dialog.getByTestId('private-network-ask')
  await ask.waitFor()
  assert.match(await ask.textContent(), /loopback address/)
  await shot(page, 'admin-provider-private-network')
  await ask.getByRole('button', { name: 'Allow the private network and save' }).click()
  const card = page.getByTestId('provider').filter({ hasText: 'acme' })
  await card.getByText('key saved').waitFor()

  await card.getByRole('button', { name: 'Test connection' }).click()
  await card.getByTestId('provider-test').waitFor({ timeout: 20_000 })
  assert.doesNotMatch(await card.getByTestId('provider-test').textContent(), /Connected/)
  await shot(page, 'admin-providers')

  await card.getByRole('button', { name: 'Edit' }).click()
  assert.equal(await dialog.getByLabel('API key', { exact: true }).inputValue(), '')
  assert.ok(!(await page.content()).includes('sk-very-secret-123'))
  await dialog.getByLabel('Base URL', { exact: true }).fill('http://127.0.0.1:10/v1')
  await dialog.getByRole('button', { name: 'Save provider' }).click()
  await card.getByText('http://127.0.0.1:10/v1').waitFor()

  // The model picker lists the local model with its capability badges.
  await page.goto('/assistants/new')
  await page.getByTestId('model-picker').click()
  const option = page.getByRole('option').filter({ hasText: 'local/' }).first()
  await option.getByText('local', { exact: true }).waitFor()
  await option.getByText(/context/).waitFor()
  await shot(page, 'assistant-model-picker')
  await page.keyboard.press('Escape')

  await page.goto('/admin/providers')
  await card.getByRole('button', { name: 'Delete' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
  await card.waitFor({ state: 'detached' })
  assert.deepEqual(errors, [])
  await context.close()
})

test('an administrator edits the price table and the budgets', async (t) => {
  if (!ADMIN.password) return t.skip('ADMIN_EMAIL / ADMIN_PASSWORD not set')
  const { page, context, errors } = await newUserPage(browser)
  await login(page, ADMIN.email, ADMIN.password)
  await page.goto('/admin/prices')
  await page.getByTestId('price-row').first().waitFor()
  const before = await page.getByTestId('price-version').textContent()
  await page.getByRole('button', { name: 'Add a model price' }).click()
  const rows = page.getByTestId('price-row')
  const last = rows.last()
  await last.getByRole('textbox').fill('acme/chat-*')
  await last.getByLabel(/Input \$\/1M/).fill('0.5')
  await last.getByLabel(/Output \$\/1M/).fill('1.5')
  const note = 'Acme chat models'
  await page.getByLabel('Note for this version').fill(note)
  await page.getByRole('button', { name: 'Save as new version' }).click()
  await page.getByTestId('price-version').filter({ hasText: note, hasNotText: before }).waitFor()
  await page.getByRole('heading', { name: 'Administration' }).scrollIntoViewIfNeeded()
  await shot(page, 'admin-prices')

  await page.getByRole('link', { name: 'Budgets' }).click()
  await page.getByLabel('Monthly spend ($): kind of limit').first().selectOption('limit')
  await page.getByLabel('Monthly spend ($)', { exact: true }).first().fill('25')
  await page.getByRole('button', { name: 'Save defaults' }).click()
  await page.getByRole('status').filter({ hasText: 'Default budgets saved' }).waitFor()
  await page.getByLabel('User', { exact: true }).selectOption({ index: 1 })
  await page.getByText('In force:').first().waitFor()
  await shot(page, 'admin-budgets')
  assert.deepEqual(errors, [])
  await context.close()
})
