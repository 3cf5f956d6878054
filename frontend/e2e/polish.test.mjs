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

test('a rejected form marks the field in plain words, focuses it, and clears the mark on edit', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Form Tester', email: uniqueEmail('forms') })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Weather')
  await page.getByRole('button', { name: 'Add tool' }).click()
  // No other assistant yet: no sub-assistant to offer.
  assert.equal(await page.getByRole('menuitem', { name: /^Assistant/ }).getAttribute('aria-disabled'), 'true')
  await page.getByRole('menuitem', { name: /^Function/ }).click()
  const name = page.getByLabel('Function name', { exact: true })
  await name.fill('get weather!')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-invalid') === 'true')
  assert.equal(await name.getAttribute('aria-invalid'), 'true')
  const said = await page.getByTestId('field-error').allTextContents()
  assert.deepEqual(said, ['Use only the characters allowed here (see the hint).'])
  assert.doesNotMatch(await page.locator('main').textContent(), /should match pattern|\^\[/)
  await shot(page, 'form-field-error')
  await name.fill('get_weather')
  assert.equal(await page.getByTestId('field-error').count(), 0)
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  assert.deepEqual(errors, [])
  await context.close()
})

test('search finds message text, labels archived conversations and jumps to the message', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Search Tester', email: uniqueEmail('search') })
  await shortAssistant(page, 'Finder')
  const path = await startChat(page, 'Finder')
  await ask(page, 'My favourite fruit is the quince.')
  const title = (await page.getByTestId('chat-title').textContent()).trim()
  // Archive it: still found, labelled.
  await page.getByRole('button', { name: `Actions for ${title}` }).click()
  await page.getByRole('menuitem', { name: 'Archive' }).click()
  await page.goto('/chat')
  await page.getByLabel('Search conversations').fill('quince')
  const hit = page.getByTestId('message-hit').first()
  await hit.waitFor()
  assert.match(await hit.textContent(), /quince/i)
  assert.match(await hit.textContent(), /Archived/)
  await shot(page, 'search-message-hits')
  await hit.click()
  await page.waitForURL((url) => url.pathname === path && url.searchParams.has('message'))
  await page.locator('.search-hit').waitFor()
  assert.match(await page.locator('.search-hit').textContent(), /quince/i)
  // Another user finds nothing.
  const other = await newUserPage(browser)
  await register(other.page, { name: 'Nosy', email: uniqueEmail('nosy') })
  await other.page.goto('/chat')
  await other.page.getByLabel('Search conversations').fill('quince')
  await other.page.getByText('No conversation matches.').waitFor()
  assert.equal(await other.page.getByTestId('message-hit').count(), 0)
  await other.context.close()
  assert.deepEqual(errors, [])
  await context.close()
})

test('a chat opens with the message box focused; Ctrl+K focuses the search', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Keys Tester', email: uniqueEmail('keys') })
  await shortAssistant(page, 'Keys')
  await startChat(page, 'Keys')
  await page.waitForFunction(() => document.activeElement?.id === 'composer')
  await page.keyboard.press('Control+k')
  await page.waitForFunction(() => document.activeElement?.id === 'conversation-search')
  // "?" outside a text field lists the shortcuts; Escape closes the dialog.
  await page.keyboard.press('Escape')
  await page.getByTestId('chat-title').click()
  await page.keyboard.press('?')
  const dialog = page.getByTestId('shortcuts-dialog')
  await dialog.waitFor()
  assert.match(await dialog.textContent(), /Search conversations and messages/)
  await shot(page, 'shortcuts-dialog')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'hidden' })
  await page.getByTestId('shortcuts-button').click()
  await dialog.waitFor()
  await page.getByRole('button', { name: 'Close' }).click()
  // A toast shows at the bottom, clear of the header's buttons.
  const title = (await page.getByTestId('chat-title').textContent()).trim()
  await page.getByRole('button', { name: `Actions for ${title}` }).click()
  await page.getByRole('menuitem', { name: 'Archive' }).click()
  const toast = page.locator('[data-toast]').first()
  await toast.waitFor()
  const box = await toast.boundingBox()
  for (const button of await page.locator('header button, header a').all()) {
    const b = await button.boundingBox()
    if (!b) continue
    const overlaps = box.x < b.x + b.width && b.x < box.x + box.width && box.y < b.y + b.height && b.y < box.y + box.height
    assert.equal(overlaps, false, 'a toast covers a header button')
  }
  assert.deepEqual(errors, [])
  await context.close()
})

/** Press Tab (or Shift+Tab) until the focused element's accessible name matches: no mouse. */
async function tabTo(page, name, { back = false, max = 80 } = {}) {
  for (let i = 0; i < max; i += 1) {
    const label = await page.evaluate(() => {
      const el = document.activeElement
      return el ? (el.getAttribute('aria-label') ?? el.textContent ?? '').trim() : ''
    })
    if (typeof name === 'string' ? label === name : name.test(label)) return
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab')
  }
  throw new Error(`could not reach ${name} by keyboard`)
}

test('the whole chat flow works by keyboard alone', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Keyboard Only', email: uniqueEmail('kbd') })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Keyboard')
  await page.getByLabel('Max output tokens', { exact: true }).fill('200')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  // From here on: keyboard only.
  await tabTo(page, 'Start chat')
  await page.keyboard.press('Enter')
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.waitForFunction(() => document.activeElement?.id === 'composer')
  // Send, then stop with Escape.
  await page.keyboard.type('Write a long story about a lighthouse keeper.')
  await page.waitForFunction(() => document.querySelector('button[aria-label="Send (Enter)"]')?.disabled === false)
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => (document.querySelector('[data-testid="message"][data-role="assistant"] [data-testid="message-text"]')?.textContent ?? '').length > 20, null, { timeout: 60_000 })
  await page.keyboard.press('Escape')
  await answers(page).last().getByTestId('message-status').filter({ hasText: 'Stopped' }).waitFor({ timeout: 30_000 })
  // Retry (regenerate) → version 2/2; back to 1/2.
  await tabTo(page, 'Retry', { back: true })
  await page.keyboard.press('Enter')
  await answers(page).last().getByTestId('version-label').filter({ hasText: '2/2' }).waitFor({ timeout: 30_000 })
  await page.keyboard.press('Escape')
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="message"][data-role="assistant"]:not([data-status="streaming"])').length === 1, null, { timeout: 60_000 })
  await tabTo(page, 'Previous version', { back: true })
  await page.keyboard.press('Enter')
  await answers(page).last().getByTestId('version-label').filter({ hasText: '1/2' }).waitFor()
  // The cost popover.
  await tabTo(page, 'Tokens and cost')
  await page.keyboard.press('Enter')
  await page.getByTestId('message-info').getByText('Output tokens').waitFor()
  await page.keyboard.press('Escape')
  // Edit and resend the question.
  await tabTo(page, 'Edit and resend', { back: true })
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.activeElement?.id?.startsWith('edit-'))
  await page.keyboard.press('Control+a')
  await page.keyboard.type('Name a planet.')
  await page.keyboard.press('Enter')
  await questions(page).last().getByTestId('version-label').filter({ hasText: '2/2' }).waitFor({ timeout: 30_000 })
  await page.keyboard.press('Escape')
  assert.deepEqual(errors, [])
  await context.close()
})

test('the model of one conversation is switched in the header, and the answer records it', { skip: !process.env.DOUBLE_URL }, async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Model Switcher', email: uniqueEmail('model-switch') })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Switchable')
  await page.getByTestId('model-picker').click()
  await page.getByRole('option', { name: /double\/gpt-4o-mini/ }).click()
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await startChat(page, 'Switchable')

  const switcher = page.getByTestId('chat-model')
  await page.waitForFunction(() => /gpt-4o-mini/.test(document.querySelector('[data-testid="chat-model"]')?.textContent ?? ''))
  await switcher.click()
  const options = page.getByTestId('chat-model-options').getByRole('option')
  const labels = await options.allTextContents()
  assert.ok(labels[0].includes("The assistant's model"), labels.join(' | '))
  assert.ok(labels.every((label, i) => i === 0 || label.includes('double/')), labels.join(' | ')) // its provider's only
  await shot(page, 'chat-model-switcher')
  await options.filter({ hasText: 'double/gpt-4o' }).filter({ hasNotText: 'mini' }).click()
  await page.waitForFunction(() => /gpt-4o(?!-mini)/.test(document.querySelector('[data-testid="chat-model"]')?.textContent ?? ''))

  await ask(page, 'Hello?')
  assert.equal((await answers(page).last().getByTestId('message-footer-model').textContent()).trim(), 'gpt-4o')
  await answers(page).last().getByRole('button', { name: 'Tokens and cost' }).click()
  assert.equal((await page.getByTestId('message-model').textContent()).trim(), 'double/gpt-4o')
  await shot(page, 'chat-model-recorded')
  await page.evaluate(() => localStorage.setItem('ac.theme', 'dark'))
  await page.reload()
  await page.waitForFunction(() => /gpt-4o(?!-mini)/.test(document.querySelector('[data-testid="chat-model"]')?.textContent ?? ''))
  await switcher.click()
  await shot(page, 'chat-model-switcher-dark')
  await page.keyboard.press('Escape')
  await page.setViewportSize({ width: 390, height: 844 })
  await switcher.click()
  await shot(page, 'chat-model-switcher-phone')
  assert.deepEqual(errors, [])
  await context.close()
})
