// Main journey: register → first-run guide → create, edit, chat, rename, delete; isolation; XSS.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ADMIN, createAssistant, launch, login, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const FIRST = { name: 'Ada Lovelace', email: uniqueEmail('ada') }

test('a new user registers, creates an assistant, edits it and chats', async () => {
  const { page, context, errors } = await newUserPage(browser)
  await page.goto('/')
  await page.waitForURL((url) => url.pathname === '/login')
  await page.getByRole('heading', { name: 'Sign in to Agent Creator' }).waitFor()
  await shot(page, 'login')

  await register(page, FIRST)
  await page.getByRole('heading', { name: /let's build your first assistant/i }).waitFor()
  await shot(page, 'dashboard-first-run')

  await page.getByRole('link', { name: 'Create your first assistant' }).click()
  await page.getByLabel('Name', { exact: true }).fill('Trip planner')
  await page.getByLabel('Description', { exact: true }).fill('Plans city breaks on a budget.')
  await page.getByLabel('Instructions', { exact: true }).fill('You plan short trips. Ask for dates and budget first.')
  await page.getByLabel('Tags', { exact: true }).fill('travel')
  await page.keyboard.press('Enter')
  await page.getByRole('button', { name: 'Add tool' }).click()
  await page.getByRole('menuitem', { name: /Web search/ }).click()
  await page.getByLabel('Temperature', { exact: true }).fill('0.7')
  await shot(page, 'assistant-form')
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  const card = page.getByTestId('assistant-card').filter({ hasText: 'Trip planner' })
  await card.waitFor()
  assert.match(await card.textContent(), /#travel/)
  await shot(page, 'assistants')

  // Edit: the new name replaces the old one in the list.
  await card.getByRole('link', { name: 'Edit Trip planner' }).click()
  await page.getByLabel('Name', { exact: true }).fill('City trip planner')
  await page.getByRole('button', { name: 'Save changes' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByTestId('assistant-name').filter({ hasText: 'City trip planner' }).waitFor()
  assert.equal(await page.getByTestId('assistant-name').filter({ hasText: /^Trip planner$/ }).count(), 0)

  // Start chat: a conversation is created and opened.
  await page.getByTestId('assistant-card').filter({ hasText: 'City trip planner' })
    .getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.getByTestId('chat-title').filter({ hasText: 'New conversation' }).waitFor()

  // Rename it from the sidebar.
  await page.getByRole('button', { name: 'Actions for New conversation' }).click()
  await page.getByRole('menuitem', { name: 'Rename' }).click()
  await page.getByLabel('Conversation title').fill('Weekend in Lisbon')
  await page.keyboard.press('Enter')
  await page.getByTestId('chat-title').filter({ hasText: 'Weekend in Lisbon' }).waitFor()
  await page.getByLabel('Message', { exact: true }).fill('Plan two days in Lisbon, please.')
  await shot(page, 'chat')

  // The dashboard now lists the conversation and the assistant.
  await page.getByRole('link', { name: 'Dashboard' }).click()
  await page.getByText('Weekend in Lisbon').waitFor()
  await shot(page, 'dashboard')

  // Delete the conversation after confirming.
  await page.getByText('Weekend in Lisbon').click()
  await page.getByRole('button', { name: 'Actions for Weekend in Lisbon' }).click()
  await page.getByRole('menuitem', { name: 'Delete' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
  await page.waitForURL((url) => url.pathname === '/chat')
  assert.equal(await page.getByTestId('conversation-item').count(), 0)

  await page.getByRole('link', { name: 'Settings' }).click()
  await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor()
  await shot(page, 'settings')

  assert.deepEqual(errors, [])
  await context.close()
})

test("a second user does not see the first user's assistants", async () => {
  const { page, context } = await newUserPage(browser)
  await register(page, { name: 'Grace Hopper', email: uniqueEmail('grace') })
  await page.getByRole('heading', { name: /let's build your first assistant/i }).waitFor()
  await page.goto('/assistants')
  await page.getByText('No assistants yet').waitFor()
  assert.equal(await page.getByText('City trip planner').count(), 0)
  assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0)
  await context.close()
})

test('an XSS payload as assistant name and conversation title renders as inert text', async () => {
  const payload = '<img src=x onerror=alert(1)>'
  const { page, context, dialogs, errors } = await newUserPage(browser)
  await register(page, { name: 'Mallory', email: uniqueEmail('mallory') })
  await createAssistant(page, payload, payload)
  await page.getByTestId('assistant-name').filter({ hasText: payload }).waitFor()

  await page.getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await page.getByRole('button', { name: 'Actions for New conversation' }).click()
  await page.getByRole('menuitem', { name: 'Rename' }).click()
  await page.getByLabel('Conversation title').fill(payload)
  await page.keyboard.press('Enter')
  await page.getByTestId('chat-title').filter({ hasText: payload }).waitFor()
  await page.getByTestId('conversation-title').filter({ hasText: payload }).waitFor()

  await page.goto('/')
  await page.getByText(payload).first().waitFor()
  await page.waitForTimeout(300)
  assert.equal(await page.locator('img[src="x"]').count(), 0)
  assert.deepEqual(dialogs, [])
  assert.deepEqual(errors, [])
  await context.close()
})

test('an administrator manages accounts and registration', async (t) => {
  if (!ADMIN.password) return t.skip('ADMIN_EMAIL / ADMIN_PASSWORD not set')
  const { page, context, errors } = await newUserPage(browser)
  await login(page, ADMIN.email, ADMIN.password)
  await page.getByRole('link', { name: 'Admin' }).click()
  const row = page.getByTestId('admin-user').filter({ hasText: FIRST.email })
  await row.getByRole('button', { name: 'Disable' }).click()
  await row.getByText('Disabled', { exact: true }).waitFor()
  await row.getByRole('button', { name: 'Enable' }).click()
  await row.getByRole('button', { name: 'Disable' }).waitFor()

  const toggle = page.getByRole('switch', { name: 'Open registration' })
  assert.equal(await toggle.getAttribute('aria-checked'), 'true')
  await toggle.click()
  await page.waitForFunction(() => document.querySelector('[role="switch"]')?.getAttribute('aria-checked') === 'false')
  await toggle.click()
  await page.waitForFunction(() => document.querySelector('[role="switch"]')?.getAttribute('aria-checked') === 'true')
  await page.getByRole('status').filter({ hasText: 'Registration opened' }).waitFor()
  await shot(page, 'admin')
  assert.deepEqual(errors, [])
  await context.close()
})
