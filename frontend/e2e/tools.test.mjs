// Agent runs in the browser: an assistant on a model that calls tools (the OpenAI double, scripted
// through its control route) shows each tool call as a card that streams, with its arguments and state.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { BASE_URL, launch, newUserPage, register, shot, uniqueEmail } from './helpers.mjs'

const DOUBLE_URL = process.env.DOUBLE_URL ?? ''
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

test('a tool call streams into a card, and the form says the model can call tools', { skip: !DOUBLE_URL }, async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Tool Tester', email: uniqueEmail('tools') })

  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Weather helper')
  await page.getByTestId('model-picker').click()
  await page.getByRole('option', { name: /double\/gpt-4o-mini/ }).click()
  await page.getByRole('button', { name: 'Add tool' }).click()
  await page.getByRole('menuitem', { name: /^Function/ }).click()
  await page.getByLabel('Function name').fill('get_weather')
  await page.getByTestId('tools-supported').waitFor()
  assert.match(await page.getByTestId('tools-supported').textContent(), /double\/gpt-4o-mini can call these tools/)
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')

  await page.getByTestId('assistant-card').filter({ hasText: 'Weather helper' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  // The model writes a line, then calls get_weather with arguments that stream in pieces.
  await script({
    text: ['Let me check ', 'the weather in Oslo.'], chunk_delay: 0.05,
    tool_calls: [{ name: 'get_weather', arguments: ['{"city": ', '"Oslo", ', '"unit": "celsius"}'] }],
  })
  await page.getByLabel('Message', { exact: true }).fill('What is the weather in Oslo?')
  await page.keyboard.press('Enter')

  const card = page.getByTestId('tool-call').last()
  await card.waitFor()
  await page.locator('[data-testid="message"][data-role="assistant"]').last().locator('[data-status="requires_action"]').waitFor()
  assert.equal(await card.getByTestId('tool-call-status').textContent(), "Waiting for the caller's output")
  await card.getByRole('button').click()
  const args = await card.locator('pre').first().textContent()
  assert.deepEqual(JSON.parse(args), { city: 'Oslo', unit: 'celsius' })
  const answer = page.locator('[data-testid="message"][data-role="assistant"]').last()
  assert.match(await answer.getByTestId('message-text').first().textContent(), /Let me check the weather in Oslo\./)
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor()
  await shot(page, 'chat-tool-call')

  // After a reload the saved answer shows the same card.
  await page.reload()
  await page.getByTestId('tool-call').last().waitFor()
  assert.equal(await page.getByTestId('tool-call-status').last().textContent(), "Waiting for the caller's output")
  assert.deepEqual(errors, [])
  await context.close()
})

test('a server-side HTTP function runs and its result streams into the card', { skip: !DOUBLE_URL }, async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Ops Tester', email: uniqueEmail('ops') })

  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Ops helper')
  await page.getByTestId('model-picker').click()
  await page.getByRole('option', { name: /double\/gpt-4o-mini/ }).click()
  await page.getByRole('button', { name: 'Add tool' }).click()
  await page.getByRole('menuitem', { name: /^Function/ }).click()
  await page.getByLabel('Function name').fill('server_status')
  await page.getByLabel('An HTTP endpoint (the server calls it)').check()
  await page.getByLabel('URL', { exact: true }).fill(`${BASE_URL}/health/ready`)
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')

  await page.getByTestId('assistant-card').filter({ hasText: 'Ops helper' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)
  await script(
    { text: ['Checking the server.'], tool_calls: [{ name: 'server_status', arguments: ['{}'] }] },
    { text: ['The server ', 'is ready: ', 'the database answers.'], chunk_delay: 0.05 },
  )
  await page.getByLabel('Message', { exact: true }).fill('Is the server healthy?')
  await page.keyboard.press('Enter')
  await page.locator('[data-testid="message"][data-role="assistant"][data-status="complete"]').waitFor({ timeout: 20_000 })
  const card = page.getByTestId('tool-call').last()
  assert.equal(await card.getByTestId('tool-call-status').textContent(), 'Done')
  await card.getByRole('button').click()
  assert.match(await card.getByTestId('tool-call-output').textContent(), /"database": ?"ok"/)
  const texts = await page.locator('[data-testid="message"][data-role="assistant"]').last().getByTestId('message-text').allTextContents()
  assert.deepEqual(texts.map((t) => t.trim()), ['Checking the server.', 'The server is ready: the database answers.'])
  await shot(page, 'chat-tool-result')
  assert.deepEqual(errors, [])
  await context.close()
})

test('the code interpreter plots an attached CSV and the chart shows in the chat', { skip: !DOUBLE_URL }, async () => {
  const { page, context, errors } = await newUserPage(browser)
  await register(page, { name: 'Chart Tester', email: uniqueEmail('chart') })
  await page.goto('/assistants/new')
  await page.getByLabel('Name', { exact: true }).fill('Analyst')
  await page.getByTestId('model-picker').click()
  await page.getByRole('option', { name: /double\/gpt-4o-mini/ }).click()
  await page.getByRole('button', { name: 'Add tool' }).click()
  await page.getByRole('menuitem', { name: /^Code interpreter/ }).click()
  await page.getByRole('button', { name: 'Create assistant' }).click()
  await page.waitForURL((url) => url.pathname === '/assistants')
  await page.getByTestId('assistant-card').filter({ hasText: 'Analyst' }).getByRole('button', { name: 'Start chat' }).click()
  await page.waitForURL(/\/chat\/[^/]+$/)

  const csv = 'month,revenue\n2026-01,120\n2026-02,150\n2026-03,90\n2026-04,180\n'
  const chooser = page.waitForEvent('filechooser')
  await page.getByRole('button', { name: /attach/i }).first().click()
  await (await chooser).setFiles({ name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  // Enter does nothing while a file is still uploading: wait for the chip to be done (a busy machine
  // made this race lose now and then, and the message was never sent).
  await page.locator('[data-testid="attachment-chip"][data-status="done"]').filter({ hasText: 'sales.csv' }).waitFor()
  const code = "import pandas as pd, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    + "df = pd.read_csv('/mnt/data/sales.csv')\nax = df.plot(x='month', y='revenue', kind='bar', legend=False)\n"
    + "ax.set_title('Revenue by month')\nplt.tight_layout()\nplt.savefig('/mnt/data/revenue.png')\nprint(df['revenue'].sum())"
  await script(
    { text: ['I will plot it.'], tool_calls: [{ name: 'code_interpreter', arguments: [JSON.stringify({ code })] }] },
    { text: ['Revenue peaked in April at 180; the total is 540.'] },
  )
  await page.getByLabel('Message', { exact: true }).fill('Plot revenue by month')
  await page.keyboard.press('Enter')
  const done = page.locator('[data-testid="message"][data-role="assistant"]:not([data-status="streaming"])')
  await done.waitFor({ timeout: 120_000 })
  assert.equal(await done.getAttribute('data-status'), 'complete', await done.textContent())
  const card = page.getByTestId('tool-call').last()
  assert.equal(await card.getByTestId('tool-call-status').textContent(), 'Done')
  await card.getByTestId('tool-call-files').locator('img').first().waitFor({ timeout: 20_000 })
  // The chart the code saved itself shows once (it used to come back a second time as chart-1.png).
  assert.equal(await card.getByTestId('tool-call-files').locator('img').count(), 1)
  await card.getByRole('button').first().click()
  assert.match(await card.getByTestId('tool-call-output').textContent(), /540/)
  await shot(page, 'chat-code-interpreter')
  assert.deepEqual(errors, [])
  await context.close()
})
