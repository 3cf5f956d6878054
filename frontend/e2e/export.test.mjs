// Conversation export: a chat with an attached file, exported from the header's "Export" menu as JSON
// (the file's details are in it) and as a ZIP with the file itself.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { launch, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

const DOUBLE_URL = process.env.DOUBLE_URL ?? ''
const CSV = 'item,price\ntea,3\ncoffee,4\n'
let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

async function script(...scripts) {
  const response = await fetch(`${DOUBLE_URL}/__double/scripts`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(scripts),
  })
  assert.equal(response.status, 200)
}

async function exportAs(page, label) {
  await page.getByTestId('export-button').click()
  await page.getByTestId('export-menu').waitFor()
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('export-menu').getByRole('menuitem', { name: new RegExp(`^${label}`) }).click(),
  ])
  return download
}

test('export a conversation with an attachment as JSON and as a ZIP with the file', { skip: !DOUBLE_URL }, async () => {
  const { page, errors } = await newUserPage(browser)
  await register(page, { name: 'Ezra Export', email: uniqueEmail('export') })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Price reader')
  await page.getByTestId('model-picker').click()
  await page.getByRole('option', { name: /double\/gpt-4o-mini/ }).click()
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: 'Price reader' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)

  await page.getByTestId('file-input').setInputFiles({ name: 'prices.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) })
  await page.locator('[data-testid="attachment-chip"][data-status="done"]').filter({ hasText: 'prices.csv' }).waitFor()
  await script({ text: ['Tea costs 3, coffee 4.'] }, { text: ['Price list'] })
  await page.getByLabel('Message', { exact: true }).fill('What do these cost?')
  await page.keyboard.press('Enter')
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor()

  await page.getByTestId('export-button').click()
  await page.getByTestId('export-menu').waitFor()
  await shot(page, 'chat-export-menu')
  await page.keyboard.press('Escape')

  const json = await exportAs(page, 'JSON')
  assert.match(json.suggestedFilename(), /\.json$/)
  const document = JSON.parse(await readFile(await json.path(), 'utf8'))
  assert.equal(document.format, 'agentcreator.conversation')
  const attachments = document.messages.flatMap((m) => m.attachments)
  assert.deepEqual(attachments.map((a) => [a.name, a.size, a.deleted]), [['prices.csv', Buffer.byteLength(CSV), false]])
  assert.ok(document.messages.some((m) => m.role === 'assistant' && m.text === 'Tea costs 3, coffee 4.'))

  const zip = await exportAs(page, 'ZIP')
  assert.match(zip.suggestedFilename(), /\.zip$/)
  const bytes = await readFile(await zip.path())
  assert.ok(bytes.length > 0)
  assert.equal(bytes.subarray(0, 4).toString('binary'), 'PK\x03\x04')
  // Member names are stored uncompressed in the ZIP's headers.
  assert.ok(bytes.includes(Buffer.from(`files/${attachments[0].id}-prices.csv`)))
  assert.ok(bytes.includes(Buffer.from('conversation.json')) && bytes.includes(Buffer.from('conversation.md')))

  // The sidebar's menu of the conversation offers the same downloads.
  await page.getByTestId('conversation-item').first().getByRole('button', { name: /^Actions for / }).click()
  const items = await page.getByRole('menuitem').allTextContents()
  assert.deepEqual(items.map((t) => t.trim()).filter((t) => t.startsWith('Export')),
    ['Export Markdown', 'Export JSON', 'Export ZIP with files'])
  await shot(page, 'chat-export-sidebar-menu')
  const markdown = await Promise.all([
    page.waitForEvent('download'), page.getByRole('menuitem', { name: 'Export Markdown' }).click(),
  ]).then(([download]) => download)
  assert.match(markdown.suggestedFilename(), /\.md$/)
  assert.match(await readFile(await markdown.path(), 'utf8'), /- prices\.csv \(text\/csv, 26 bytes\)/)
  assert.deepEqual(errors, [])
})
