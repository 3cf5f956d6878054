// Files in the chat: attach with the button, drop a file on the chat, paste an image (refused with
// the reason: the local model has no vision), watch the chips; the Files page lists them with the quota.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createAssistant, launch, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test('attach, drop and paste files; the Files page shows them', async () => {
  const { page, errors } = await newUserPage(browser)
  await register(page, { name: 'Fay Files', email: uniqueEmail('files') })
  await createAssistant(page, 'Reader')
  await page.goto('/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: 'Reader' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)

  // The button: a CSV through the hidden input, uploaded with a progress bar, then done.
  await page.getByTestId('file-input').setInputFiles({ name: 'prices.csv', mimeType: 'text/csv', buffer: Buffer.from('item,price\ntea,3\n') })
  await page.locator('[data-testid="attachment-chip"][data-status="done"]').filter({ hasText: 'prices.csv' }).waitFor()

  // Drop anywhere on the chat.
  const drop = await page.evaluateHandle(() => {
    const data = new DataTransfer()
    data.items.add(new File(['# Notes\n\nDropped on the chat.\n'], 'notes.md', { type: 'text/markdown' }))
    return data
  })
  await page.locator('section').filter({ has: page.getByTestId('chat-title') }).dispatchEvent('drop', { dataTransfer: drop })
  await page.locator('[data-testid="attachment-chip"][data-status="done"]').filter({ hasText: 'notes.md' }).waitFor()

  // Paste a screenshot: the local model cannot see images, so the chip says why.
  await page.getByLabel('Message', { exact: true }).focus()
  await page.evaluate(async () => {
    const canvas = Object.assign(document.createElement('canvas'), { width: 40, height: 30 })
    canvas.getContext('2d').fillRect(0, 0, 40, 30)
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'))
    const data = new DataTransfer()
    data.items.add(new File([blob], 'screenshot.png', { type: 'image/png' }))
    document.getElementById('composer').dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
  })
  const refused = page.locator('[data-testid="attachment-chip"][data-status="error"]').filter({ hasText: 'screenshot.png' })
  await refused.waitFor()
  assert.match(await refused.textContent(), /cannot see images/)

  // A file the server refuses (its content contradicts its name): the reason shows on the chip.
  await page.getByTestId('file-input').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: Buffer.from('not a PDF at all') })
  const spoofed = page.locator('[data-testid="attachment-chip"][data-status="error"]').filter({ hasText: 'report.pdf' })
  await spoofed.waitFor()
  assert.match(await spoofed.textContent(), /content is text, but its name ends in '\.pdf'/)
  await shot(page, 'chat-attachments')

  await page.getByRole('link', { name: 'Files' }).first().click()
  await page.waitForURL((url) => url.pathname === '/files')
  await page.getByTestId('file-row').first().waitFor()
  const names = await page.getByTestId('file-row').allTextContents()
  assert.equal(names.length, 2)
  assert.ok(names.some((n) => n.includes('prices.csv')) && names.some((n) => n.includes('notes.md')))
  assert.match(await page.getByTestId('quota-text').textContent(), /of 1\.0 GB/)
  await shot(page, 'files-page')

  await page.getByRole('button', { name: 'Delete prices.csv' }).click()
  await page.getByRole('button', { name: 'Delete', exact: true }).click()
  await page.getByTestId('file-row').filter({ hasText: 'prices.csv' }).waitFor({ state: 'detached' })
  assert.deepEqual(errors, [])
})
