// Code blocks in a real browser: highlighted by highlight.js (loaded with the first fence), markup
// inside a fence stays inert, and the copy button (reached with the keyboard) copies the raw code.
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

const CODE = 'def greet(name: str) -> str:\n    # say hello\n    return f"Hello, {name}!"  # <script>alert(1)</script>'
const HTML = '<img src=x onerror="alert(2)">\n<script>alert(3)</script>'

test('code blocks are highlighted, inert, and copied with the keyboard', async () => {
  const { page, context, dialogs, errors } = await newUserPage(browser)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  await register(page, { name: 'Code Reader', email: uniqueEmail('code') })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Terse')
  await page.getByLabel('Max output tokens', { exact: true }).fill('8')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: 'Terse' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)

  // The question itself holds the code (messages render the same Markdown whoever wrote them).
  const message = `What does this do?\n\n\`\`\`python\n${CODE}\n\`\`\`\n\nAnd this:\n\n\`\`\`html\n${HTML}\n\`\`\``
  await page.getByLabel('Message', { exact: true }).fill(message)
  await page.keyboard.press('Enter')
  const question = page.locator('[data-testid="message"][data-role="user"]').last()
  await question.locator('.hljs-keyword').first().waitFor()
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor({ timeout: 60_000 })
  // 8 output tokens cannot hold an explanation of this code: the answer is marked as cut off.
  await page.locator('[data-testid="message"][data-role="assistant"]').last().getByTestId('message-cut-off').waitFor()
  await page.getByTestId('chat-title').filter({ hasNotText: 'New conversation' }).waitFor({ timeout: 30_000 })
  const blocks = question.locator('.code-block')
  assert.equal(await blocks.count(), 2)
  assert.equal(await blocks.nth(0).locator('.code-lang').textContent(), 'python')
  assert.ok((await blocks.nth(0).locator('.hljs-string').count()) > 0)
  assert.ok((await blocks.nth(1).locator('.hljs-tag').count()) > 0)
  assert.equal(await page.locator('img[src="x"]').count(), 0)
  assert.equal(await page.locator('[data-testid="message-text"] script').count(), 0)

  // Tab to the first copy button and press Enter: "Copied", and the clipboard holds the raw code.
  const copy = blocks.nth(0).getByRole('button', { name: 'Copy code' })
  await copy.focus()
  assert.equal(await page.evaluate(() => document.activeElement?.matches('button[data-copy-code]')), true)
  await page.keyboard.press('Enter')
  await blocks.nth(0).getByRole('button', { name: 'Copied code' }).waitFor()
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), CODE)
  await blocks.nth(1).getByRole('button', { name: 'Copy code' }).click()
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), HTML)
  await shot(page, 'chat-code')

  // Dark mode keeps the blocks readable.
  await page.evaluate(() => localStorage.setItem('ac.theme', 'dark'))
  await page.reload()
  await question.locator('.hljs-keyword').first().waitFor()
  await shot(page, 'chat-code-dark')
  assert.deepEqual(dialogs, [])
  assert.deepEqual(errors, [])
  await context.close()
})
