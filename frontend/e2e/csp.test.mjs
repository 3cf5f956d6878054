// The web app under the server's strict Content-Security-Policy: every page works and the browser
// reports no violation (no inline script, no eval, nothing from another origin).
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

test('the app runs under the CSP with no violation', async () => {
  const { page, context, errors } = await newUserPage(browser)
  // Recorded from before the first script runs (an init script is not subject to the page's CSP).
  await context.addInitScript(() => {
    window.__cspViolations = []
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`)
    })
  })
  const consoleCsp = []
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) consoleCsp.push(msg.text())
  })
  const response = await page.goto('/login')
  const csp = response.headers()['content-security-policy'] ?? ''
  assert.match(csp, /script-src 'self'(;|$)/)
  assert.match(csp, /frame-ancestors 'none'/)
  await register(page, { name: 'Csp Tester', email: uniqueEmail('csp') })
  await createAssistant(page, 'Strict helper')
  for (const path of ['/', '/assistants', '/settings', '/usage']) {
    await page.goto(path)
    await page.waitForLoadState('networkidle')
  }
  await shot(page, 'csp-usage')
  const violations = await page.evaluate(() => window.__cspViolations)
  assert.deepEqual(violations, [])
  assert.deepEqual(consoleCsp, [])
  assert.deepEqual(errors, [])
  await context.close()
})
