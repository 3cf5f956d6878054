// Chat on the real local model (SmolLM2), over WebSocket: stream → stop → regenerate and versions
// → edit → tokens and cost → rename → delete; the SSE fallback; XSS in a chat message.
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

async function assistantWithMaxTokens(page, name, maxTokens) {
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('Max output tokens', { exact: true }).fill(String(maxTokens))
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
}

async function startChat(page, name) {
  await page.goto('/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: name }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.getByTestId('chat-title').filter({ hasText: 'New conversation' }).waitFor()
}

/** Record every distinct text the last assistant message shows until it stops streaming. */
function watchAnswer(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const seen = []
    const timer = setInterval(() => {
      const answers = document.querySelectorAll('[data-testid="message"][data-role="assistant"]')
      const last = answers[answers.length - 1]
      if (!last) return
      const text = last.querySelector('[data-testid="message-text"]')?.textContent ?? ''
      if (text && seen.at(-1) !== text) seen.push(text)
      if (last.dataset.status !== 'streaming' && seen.length) {
        clearInterval(timer)
        resolve({ seen, status: last.dataset.status })
      }
    }, 15)
  }))
}

const lastAnswer = (page) => page.locator('[data-testid="message"][data-role="assistant"]').last()

test('chat streams an answer, stops, regenerates and switches versions', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Chat Tester', email: uniqueEmail('chat') })
  await assistantWithMaxTokens(page, 'Short answers', 24)
  await assistantWithMaxTokens(page, 'Long answers', 200)

  // A streamed answer: several text updates arrive before it completes.
  await startChat(page, 'Short answers')
  const watching = watchAnswer(page)
  await page.getByLabel('Message', { exact: true }).fill('Say hello to me.')
  await page.keyboard.press('Enter')
  const { seen, status } = await watching
  assert.equal(status, 'complete')
  assert.ok(seen.length >= 3, `expected several text updates, saw ${seen.length}: ${JSON.stringify(seen)}`)
  const first = await lastAnswer(page).getByTestId('message-text').textContent()
  assert.ok(first.trim().length > 0)
  // The generated title arrives live (conversation_updated).
  await page.getByTestId('chat-title').filter({ hasNotText: 'New conversation' }).waitFor({ timeout: 30_000 })
  await shot(page, 'chat-streamed')

  // Tokens and cost on demand.
  await lastAnswer(page).getByRole('button', { name: 'Tokens and cost' }).click()
  const info = page.getByTestId('message-info')
  await info.getByText('Output tokens').waitFor()
  assert.match(await info.textContent(), /Cost\$/)
  await info.getByRole('button', { name: 'Show context sent to the model' }).click()
  await page.getByRole('dialog').getByText('Messages kept (1)').waitFor()
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click()

  // Regenerate: version 2/2, then back to 1/2 with the first text.
  await lastAnswer(page).getByRole('button', { name: 'Regenerate' }).click()
  await lastAnswer(page).getByTestId('version-label').filter({ hasText: '2/2' }).waitFor({ timeout: 30_000 })
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').last().waitFor()
  await shot(page, 'chat-versions')
  await lastAnswer(page).getByRole('button', { name: 'Previous version' }).click()
  await lastAnswer(page).getByTestId('version-label').filter({ hasText: '1/2' }).waitFor()
  assert.equal(await lastAnswer(page).getByTestId('message-text').textContent(), first)

  // Edit and resend the question: a new branch with versions on the user message.
  await page.locator('[data-testid="message"][data-role="user"]').last().getByRole('button', { name: 'Edit and resend' }).click()
  await page.getByLabel('Edit message').fill('Say goodbye to me.')
  await page.getByLabel('Edit message').press('Enter')
  const question = page.locator('[data-testid="message"][data-role="user"]').last()
  await question.getByTestId('version-label').filter({ hasText: '2/2' }).waitFor({ timeout: 30_000 })
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').last().waitFor({ timeout: 30_000 })

  // Rename, then delete.
  const title = (await page.getByTestId('chat-title').textContent()).trim()
  await page.getByRole('button', { name: `Actions for ${title}` }).click()
  await page.getByRole('menuitem', { name: 'Rename' }).click()
  await page.getByLabel('Conversation title').fill('Greetings')
  await page.keyboard.press('Enter')
  await page.getByTestId('chat-title').filter({ hasText: 'Greetings' }).waitFor()

  // Stop a longer answer: "Stopped", the partial text kept.
  await startChat(page, 'Long answers')
  await page.getByLabel('Message', { exact: true }).fill('Write a long story about a dragon who learns to cook.')
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="message"][data-role="assistant"] [data-testid="message-text"]')
    return (el?.textContent ?? '').length > 40
  }, null, { timeout: 30_000 })
  await page.getByRole('button', { name: 'Stop (Esc)' }).click()
  await lastAnswer(page).getByTestId('message-status').filter({ hasText: 'Stopped' }).waitFor({ timeout: 15_000 })
  const partial = await lastAnswer(page).getByTestId('message-text').textContent()
  assert.ok(partial.length > 40)
  await page.reload()
  await lastAnswer(page).getByTestId('message-status').filter({ hasText: 'Stopped' }).waitFor()
  assert.ok((await lastAnswer(page).getByTestId('message-text').textContent()).startsWith(partial.slice(0, 30)))
  await lastAnswer(page).getByRole('button', { name: 'Retry' }).waitFor()

  await page.goto('/chat')
  const item = page.getByTestId('conversation-item').filter({ hasText: 'Greetings' })
  await item.getByRole('button', { name: 'Actions for Greetings' }).click()
  await page.getByRole('menuitem', { name: 'Delete' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
  await item.waitFor({ state: 'detached' })

  assert.deepEqual(errors, [])
  await context.close()
})

test('the SSE fallback streams when WebSocket is off; XSS in a message stays inert', async () => {
  const payload = 'Look: <img src=x onerror=alert(1)> and <script>alert(2)</script>'
  const { page, context, dialogs, errors } = await newUserPage(browser)
  await register(page, { name: 'Sse User', email: uniqueEmail('sse') })
  await page.evaluate(() => localStorage.setItem('ac.transport', 'sse'))
  await assistantWithMaxTokens(page, 'Short answers', 24)
  await startChat(page, 'Short answers')
  const watching = watchAnswer(page)
  await page.getByLabel('Message', { exact: true }).fill(payload)
  await page.keyboard.press('Enter')
  const { seen, status } = await watching
  assert.equal(status, 'complete')
  assert.ok(seen.length >= 3, `expected several text updates over SSE, saw ${seen.length}`)
  const question = page.locator('[data-testid="message"][data-role="user"]').last()
  assert.equal((await question.getByTestId('message-text').textContent()).trim(), payload)
  await page.reload()
  await question.waitFor()
  await page.waitForTimeout(300)
  assert.equal(await page.locator('img[src="x"]').count(), 0)
  assert.equal(await page.locator('[data-testid="message-text"] script').count(), 0)
  assert.deepEqual(dialogs, [])
  assert.deepEqual(errors, [])
  await context.close()
})

test('chat at phone width and in dark mode: versions and actions stay usable', async () => {
  const { page, context, errors } = await newUserPage(browser, { width: 390, height: 844 })
  await register(page, { name: 'Phone User', email: uniqueEmail('phone') })
  await page.evaluate(() => localStorage.setItem('ac.theme', 'dark'))
  await assistantWithMaxTokens(page, 'Short answers', 24)
  await startChat(page, 'Short answers')
  await page.getByLabel('Message', { exact: true }).fill('Say hi.')
  await page.keyboard.press('Enter')
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor({ timeout: 30_000 })
  await lastAnswer(page).getByRole('button', { name: 'Regenerate' }).click()
  await lastAnswer(page).getByTestId('version-label').filter({ hasText: '2/2' }).waitFor({ timeout: 30_000 })
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').last().waitFor({ timeout: 30_000 })
  assert.ok(await page.evaluate(() => document.documentElement.classList.contains('dark')))
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`)
  await shot(page, 'chat-phone-dark')
  assert.deepEqual(errors, [])
  await context.close()
})
