// Knowledge page: create a base, drop a Markdown file, watch it ingest to "ready", search it and see
// the passage with its page and ranks; a binary file is refused with a clear message.
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
  await page.getByRole('alert').filter({ hasText: 'text' }).first().waitFor()
  assert.equal(await documents.locator('li').count(), 1)
  assert.deepEqual(errors.filter((e) => !/422/.test(e)), [])
  await context.close()
})
