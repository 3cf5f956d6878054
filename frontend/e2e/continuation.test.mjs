// The message cap on the real local model: an assistant with max_messages 4 moves the chat to a
// continuation on the third send; the old conversation becomes read-only with a link, the new one
// says what it continues; a stale tab sending to the old one gets the 409 banner with the link.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, login, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const answers = (page) => page.locator('[data-testid="message"][data-role="assistant"]')
const conversationId = (page) => new URL(page.url()).pathname.split('/').at(-1)

async function sendAndWait(page, text) {
  const complete = page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]')
  const done = await complete.count()
  await page.getByLabel('Message', { exact: true }).fill(text)
  await page.keyboard.press('Enter')
  await complete.nth(done).waitFor({ timeout: 60_000 })
}

test('the message cap continues the chat; the old conversation is read-only, a stale tab is told where to go', async () => {
  const email = uniqueEmail('cap')
  const password = 'correct-horse-9'
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Cap Tester', email, password })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Tiny chats')
  await page.getByLabel('Max output tokens', { exact: true }).fill('16')
  await page.getByLabel('Max messages', { exact: true }).fill('4')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: 'Tiny chats' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  const oldId = conversationId(page)

  await sendAndWait(page, 'My name is Ada.')
  await sendAndWait(page, 'I live in Lyon.')

  // A second tab on the SSE transport opens the old conversation now: it hears nothing when idle.
  const stale = await newUserPage(browser)
  await login(stale.page, email, password)
  await stale.page.evaluate(() => localStorage.setItem('ac.transport', 'sse'))
  await stale.page.goto(`/chat/${oldId}`)
  await answers(stale.page).nth(1).waitFor()

  // The third send reaches the cap (4 messages): the chat moves to a continuation and answers there.
  await page.getByLabel('Message', { exact: true }).fill('What is my name?')
  await page.keyboard.press('Enter')
  await page.waitForURL((url) => url.pathname.startsWith('/chat/') && !url.pathname.endsWith(oldId), { timeout: 90_000 })
  const newId = conversationId(page)
  const continues = page.getByTestId('continues-banner')
  await continues.waitFor()
  assert.equal(await continues.getByRole('link', { name: 'an earlier conversation' }).getAttribute('href'), `/chat/${oldId}`)
  await page.locator('[data-testid="message"][data-role="user"]').filter({ hasText: 'What is my name?' }).waitFor({ timeout: 30_000 })
  // The carried-over messages (the last question and answer) come first, then the new turn.
  await page.waitForFunction(() => {
    const all = [...document.querySelectorAll('[data-testid="message"]')]
    const last = all.at(-1)
    return all.length >= 4 && last?.dataset.role === 'assistant' && last.dataset.status === 'complete'
  }, null, { timeout: 60_000 })
  const texts = await page.locator('[data-testid="message"] [data-testid="message-text"]').allTextContents()
  assert.equal(texts[0].trim(), 'I live in Lyon.')
  assert.equal(texts.at(-2).trim(), 'What is my name?')
  // The summary the assistant was given is one click away.
  await page.getByText('Summary the assistant was given').click()
  assert.ok((await continues.getByTestId('continuation-summary').textContent()).trim().length > 0)
  await page.getByRole('button', { name: 'Send (Enter)' }).waitFor()
  assert.equal(await page.getByLabel('Message', { exact: true }).isEditable(), true)
  await shot(page, 'chat-continuation')

  // The old conversation: banner with a link to the continuation, composer disabled with a reason.
  await continues.getByRole('link', { name: 'an earlier conversation' }).click()
  await page.waitForURL((url) => url.pathname === `/chat/${oldId}`)
  const banner = page.getByTestId('continued-banner')
  await banner.waitFor()
  assert.equal(await banner.getByRole('link', { name: 'Continue' }).getAttribute('href'), `/chat/${newId}`)
  await page.getByText('This conversation is read-only').waitFor()
  await page.getByLabel('Message', { exact: true }).fill('Still here?')
  assert.equal(await page.getByRole('button', { name: 'Send (Enter)' }).isDisabled(), true)
  assert.equal(await page.getByRole('button', { name: 'Regenerate' }).count(), 0)
  assert.equal(await page.getByRole('button', { name: 'Edit and resend' }).count(), 0)
  await page.getByLabel('Message', { exact: true }).fill('')
  await shot(page, 'chat-read-only')

  // The stale tab still shows a writable old conversation; its send is refused (409) with the link.
  const sp = stale.page
  await sp.getByLabel('Message', { exact: true }).fill('Are you there?')
  await sp.keyboard.press('Enter')
  const refused = sp.locator('[data-testid="continued-banner"][data-refused="true"]')
  await refused.waitFor()
  assert.match(await refused.textContent(), /Your message was not sent/)
  assert.equal(await refused.getByRole('link', { name: 'Continue' }).getAttribute('href'), `/chat/${newId}`)
  assert.equal(await sp.getByLabel('Message', { exact: true }).inputValue(), 'Are you there?')
  assert.equal(await sp.getByRole('button', { name: 'Send (Enter)' }).isDisabled(), true)
  assert.equal(await sp.locator('[data-testid="chat-error"]').count(), 0)
  await refused.getByRole('link', { name: 'Continue' }).click()
  await sp.waitForURL((url) => url.pathname === `/chat/${newId}`)
  await sp.getByTestId('continues-banner').waitFor()

  assert.deepEqual(errors, [])
  assert.deepEqual(stale.errors, [])
  await stale.context.close()
  await context.close()
})
