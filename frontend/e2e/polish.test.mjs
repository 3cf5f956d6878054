// Everyday polish (issue 17): no phantom version after edit + reload; a conversation that cannot
// continue says so up front; another user's conversation is a plain not-found; "Start chat" reuses an
// empty conversation.
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

async function shortAssistant(page, name) {
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('Max output tokens', { exact: true }).fill('16')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
}

async function startChat(page, name) {
  await page.goto('/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: name }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.getByLabel('Message', { exact: true }).waitFor()
  return new URL(page.url()).pathname
}

const answers = (page) => page.locator('[data-testid="message"][data-role="assistant"]')
const questions = (page) => page.locator('[data-testid="message"][data-role="user"]')

async function ask(page, text) {
  const before = await answers(page).count()
  await page.getByLabel('Message', { exact: true }).fill(text)
  // Sending is possible once the conversation has loaded.
  await page.waitForFunction(() => document.querySelector('button[aria-label="Send (Enter)"]')?.disabled === false)
  await page.keyboard.press('Enter')
  await page.waitForFunction((n) => {
    const all = document.querySelectorAll('[data-testid="message"][data-role="assistant"]')
    return all.length > n && all[all.length - 1].dataset.status === 'complete'
  }, before, { timeout: 60_000 })
}

test('after edit, going back to version 1/2 and reloading shows 1/2 of two versions (no phantom)', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Version Tester', email: uniqueEmail('versions') })
  await shortAssistant(page, 'Terse')
  await startChat(page, 'Terse')
  await ask(page, 'Name a color.')
  await ask(page, 'Name an animal.')

  await questions(page).last().getByRole('button', { name: 'Edit and resend' }).click()
  await page.getByLabel('Edit message').fill('Name a planet.')
  await page.getByLabel('Edit message').press('Enter')
  await questions(page).last().getByTestId('version-label').filter({ hasText: '2/2' }).waitFor({ timeout: 30_000 })
  await page.waitForFunction(() => {
    const all = document.querySelectorAll('[data-testid="message"][data-role="assistant"]')
    return all.length === 2 && all[1].dataset.status === 'complete'
  }, null, { timeout: 60_000 })

  await questions(page).last().getByRole('button', { name: 'Previous version' }).click()
  await questions(page).last().getByTestId('version-label').filter({ hasText: '1/2' }).waitFor()
  await page.reload()
  await questions(page).last().getByTestId('version-label').filter({ hasText: '1/2' }).waitFor()
  // The live connection replays the last finished turn (the edit's) right after the thread loads.
  await page.waitForLoadState('networkidle')
  await page.waitForTimeout(1500)
  assert.equal(await questions(page).count(), 2)
  assert.equal(await answers(page).count(), 2)
  assert.equal((await questions(page).last().getByTestId('message-text').textContent()).trim(), 'Name an animal.')
  assert.equal((await questions(page).last().getByTestId('version-label').textContent()).trim(), '1/2')
  assert.equal(await page.getByTestId('version-label').filter({ hasText: '3/3' }).count(), 0)
  assert.deepEqual(errors, [])
  await context.close()
})

test('"Start chat" reopens the empty conversation instead of piling up new ones', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Start Tester', email: uniqueEmail('start') })
  await shortAssistant(page, 'Reused')
  const first = await startChat(page, 'Reused')
  const second = await startChat(page, 'Reused')
  assert.equal(second, first)
  await page.goto('/chat')
  await page.getByTestId('conversation-item').first().waitFor()
  assert.equal(await page.getByTestId('conversation-item').count(), 1)
  // Once it has a message, "Start chat" makes a new one.
  await page.goto(first)
  await ask(page, 'Hi.')
  const third = await startChat(page, 'Reused')
  assert.notEqual(third, first)
  assert.deepEqual(errors, [])
  await context.close()
})

test('a deleted assistant locks its conversations up front; another user\'s conversation is not found', async () => {
  const owner = await newUserPage(browser)
  const { page } = owner
  await register(page, { name: 'Owner', email: uniqueEmail('owner') })
  await shortAssistant(page, 'Doomed')
  const path = await startChat(page, 'Doomed')
  await ask(page, 'Hello.')

  const intruder = await newUserPage(browser)
  await register(intruder.page, { name: 'Intruder', email: uniqueEmail('intruder') })
  await intruder.page.goto(path)
  await intruder.page.getByTestId('conversation-not-found').getByText('Conversation not found').waitFor()
  assert.equal(await intruder.page.getByText('No messages yet').count(), 0)
  assert.equal(await intruder.page.getByLabel('Message', { exact: true }).count(), 0)
  await shot(intruder.page, 'chat-not-found')
  await intruder.context.close()

  await page.goto('/assistants')
  await page.getByRole('button', { name: 'More actions for Doomed' }).click()
  await page.getByRole('menuitem', { name: 'Delete' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
  await page.getByTestId('assistant-card').filter({ hasText: 'Doomed' }).waitFor({ state: 'detached' })
  await page.goto(path)
  const banner = page.getByTestId('assistant-gone-banner')
  await banner.waitFor()
  assert.match(await banner.textContent(), /Its assistant was deleted/)
  assert.equal(await page.getByLabel('Message', { exact: true }).isDisabled(), true)
  assert.equal(await page.getByRole('button', { name: 'Send (Enter)' }).isDisabled(), true)
  await shot(page, 'chat-assistant-deleted')
  await banner.getByRole('link', { name: 'Start a new chat with another assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/chat')
  assert.deepEqual(owner.errors, [])
  await owner.context.close()
})
