// Knowledge page: create a base, drop a Markdown file, watch it ingest to "ready", search it and see
// the passage with its page and ranks; a file without text is refused with a clear message. Then an
// assistant picks the base in its form, answers with a citation (the OpenAI double calls file_search),
// and a click on the citation opens the passage; a second base takes the file from "your files".
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

const DOUBLE_URL = process.env.DOUBLE_URL ?? ''

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const NOTES = '# Garden notes\n\nThe tomatoes need watering every morning in July.\fPage two: the shed key hangs behind the blue door.'

test('a dropped file ingests, and search shows the passage it holds', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Knowledge User', email: uniqueEmail('knowledge') })
  await page.getByRole('link', { name: 'Knowledge' }).click()
  await page.getByLabel('New knowledge base').fill('Household')
  await page.getByRole('button', { name: 'Create knowledge base' }).click()
  await page.getByRole('heading', { name: 'Household' }).waitFor()

  const input = page.locator('input[type="file"]')
  await input.setInputFiles({ name: 'garden.md', mimeType: 'text/markdown', buffer: Buffer.from(NOTES) })
  const documents = page.getByRole('list', { name: 'Documents' })
  await documents.getByText('garden.md').waitFor()
  await documents.getByText('ready').waitFor({ timeout: 60_000 })
  assert.match(await documents.textContent(), /2 page\(s\)/)

  await page.getByLabel('Search this knowledge base').fill('where is the key to the shed?')
  await page.getByRole('button', { name: 'Search' }).click()
  const first = page.locator('ol > li').first()
  await first.getByText('behind the blue door').waitFor()
  assert.match(await first.textContent(), /page 2/)
  await shot(page, 'knowledge')

  await input.setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0]) })
  await page.getByRole('alert').filter({ hasText: /PNG|image|type/i }).first().waitFor()
  assert.equal(await documents.locator('li').count(), 1)
  assert.deepEqual(errors.filter((e) => !/41[35]|422/.test(e)), [])
  await context.close()
})

async function script(...scripts) {
  const response = await fetch(`${DOUBLE_URL}/__double/scripts`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(scripts),
  })
  assert.equal(response.status, 200)
}

test('an assistant picks the base, and a citation in its answer opens the passage', { skip: !DOUBLE_URL }, async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Citation User', email: uniqueEmail('citations') })
  await page.getByRole('link', { name: 'Knowledge' }).click()
  await page.getByLabel('New knowledge base').fill('Household')
  await page.getByRole('button', { name: 'Create knowledge base' }).click()
  await page.getByRole('heading', { name: 'Household' }).waitFor()
  await page.locator('input[type="file"]').setInputFiles({ name: 'garden.md', mimeType: 'text/markdown', buffer: Buffer.from(NOTES) })
  const documents = page.getByRole('list', { name: 'Documents' })
  await documents.getByText('ready').waitFor({ timeout: 60_000 })

  // A second base takes the same file from "your files": nothing is uploaded again.
  await page.getByLabel('New knowledge base').fill('Garden archive')
  await page.getByRole('button', { name: 'Create knowledge base' }).click()
  await page.getByRole('heading', { name: 'Garden archive' }).waitFor()
  await page.getByRole('button', { name: 'Add from your files' }).click()
  const chooser = page.getByTestId('add-from-files')
  await chooser.getByRole('checkbox', { name: /garden\.md/ }).check()
  await chooser.getByRole('button', { name: 'Add 1 file' }).click()
  await documents.getByText('garden.md').waitFor()
  await documents.getByText('ready').waitFor({ timeout: 60_000 })

  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('House keeper')
  await page.getByTestId('model-picker').click()
  await page.getByRole('option', { name: /double\/gpt-4o-mini/ }).click()
  await page.getByRole('button', { name: 'Add tool' }).click()
  await page.getByRole('menuitem', { name: /^File search/ }).click()
  const picker = page.getByTestId('knowledge-base-picker')
  await picker.getByRole('checkbox', { name: /Household/ }).check()
  await shot(page, 'assistant-knowledge-picker')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')

  await page.getByTestId('assistant-card').filter({ hasText: 'House keeper' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await script(
    { text: ['Let me look.'], tool_calls: [{ name: 'file_search', arguments: ['{"query": "where is the shed key"}'] }] },
    { text: ['The shed key hangs behind the blue door [1].'] },
  )
  await page.getByLabel('Message', { exact: true }).fill('Where is the shed key?')
  await page.keyboard.press('Enter')
  const answer = page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').last()
  await answer.waitFor({ timeout: 60_000 })
  const link = answer.getByTestId('citation-link').first()
  assert.match(await link.textContent(), /garden\.md, page 2/)
  await link.click()
  const dialog = page.getByTestId('citation-dialog')
  await dialog.getByText('Page 2 of 2').waitFor()  // the page came from the server
  assert.match(await dialog.locator('mark').textContent(), /behind the blue door/)
  assert.match(await dialog.getByTestId('citation-text').textContent(), /^Page two: the shed key/)
  await shot(page, 'chat-citation')
  const [opened] = await Promise.all([context.waitForEvent('page'), dialog.getByTestId('citation-open-file').click()])
  assert.match(opened.url(), /^blob:/)
  await opened.close()
  await dialog.getByRole('button', { name: 'Close' }).first().click()
  await dialog.waitFor({ state: 'detached' })
  // The "[1]" the answer wrote opens the same passage.
  await answer.getByTestId('message-text').last().locator('[data-citation="1"]').click()
  await dialog.getByText('Page 2 of 2').waitFor()
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  assert.deepEqual(errors, [])
  await context.close()
})
