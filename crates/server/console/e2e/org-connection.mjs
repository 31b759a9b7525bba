// An org connection authorized in the real console, in headless Chromium (Debian's,
// through playwright-core): the admin makes Demo Salesforce org-wide, presses Authorize,
// signs in and consents on oidc-provider's own pages in the same page, lands back on the
// integration page with the health shown, tests the connection, then revokes it.
// Started by crates/server/tests/console_org.rs, which passes:
//   BASE_URL        the Latchkey server, e.g. http://127.0.0.1:PORT
//   ISSUER          the oidc-provider (Salesforce-shaped), with CLIENT_ID registered for
//                   BASE_URL/v1/oauth/callback
//   CLIENT_ID       that client's id
//   ADMIN_EMAIL, ADMIN_PASSWORD   an existing console admin
//   PROVIDER_LOGIN  who signs in at the provider
//   SCREENSHOT_DIR  where to save one PNG per step
// Between authorizing and revoking it prints `authorized` on stdout and waits for a line
// on stdin, so the Rust side can check the tokens at the provider while they are live.
// Exits non-zero on any failed step.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import path from 'node:path';
import readline from 'node:readline';

const env = process.env;
const base = env.BASE_URL;
const issuer = env.ISSUER;
const clientId = env.CLIENT_ID;
const email = env.ADMIN_EMAIL;
const password = env.ADMIN_PASSWORD;
const login = env.PROVIDER_LOGIN;
const shots = env.SCREENSHOT_DIR;
assert.ok(base && issuer && clientId && email && password && login && shots,
  'BASE_URL, ISSUER, CLIENT_ID, ADMIN_EMAIL, ADMIN_PASSWORD, PROVIDER_LOGIN, SCREENSHOT_DIR');

const step = (s) => process.stderr.write(`org e2e: ${s}\n`);
const problems = [];
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const loopback = (u) => ['127.0.0.1', 'localhost'].includes(new URL(u).hostname);

const browser = await chromium.launch({ executablePath: env.CHROMIUM ?? '/usr/bin/chromium' });
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  // oidc-provider's pages ask for a web font from the internet: nothing leaves this machine.
  await context.route((u) => !loopback(u.toString()), (r) => r.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  const health = page.locator('[data-testid=org-health]');
  // The org connection's part of the page, in view, then the screenshot.
  const shot = async (name) => {
    if (await page.locator('[data-testid=org-connection]').count()) {
      await page.locator('[data-testid=org-connection]').scrollIntoViewIfNeeded();
    }
    await page.screenshot({ path: path.join(shots, `${name}.png`) });
  };

  step('sign in to the console');
  await page.goto(`${base}/console/`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Integrations', exact: true }).waitFor();

  step('make Demo Salesforce org-wide and enable it');
  await page.getByLabel('Development providers').check();
  await page.locator('li[data-integration=demo-salesforce] button', { hasText: 'Configure' }).click();
  await page.getByRole('heading', { name: 'Demo Salesforce', exact: true }).waitFor();
  await page.fill('input[name=client_id]', clientId);
  await page.fill('input[name=param_issuer]', issuer);
  assert.match(await page.locator('[data-testid=callback-url]').textContent(), /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/callback\//, 'a user connection: the menu\'s loopback callback');
  await page.check('[data-testid=org-wide]');
  assert.equal(await page.locator('[data-testid=callback-url]').textContent(), `${new URL(page.url()).origin}/v1/oauth/callback`, 'org-wide: this server\'s callback to register');
  assert.equal(await page.inputValue('[data-testid=org-paths]'), '/search /query /queryAll', 'a new org connection starts with the paths search and widgets call');
  assert.equal(await page.locator('[data-testid=org-search-paths]').count(), 0, 'nothing to add while they are listed');
  await page.fill('[data-testid=org-paths]', '/query /limits');
  assert.match(await page.locator('[data-testid=org-search-paths]').textContent(), /without\s+\/search \/queryAll\s+users cannot search Demo Salesforce/, 'the console says what search loses');
  await page.click('[data-testid=org-search-paths-add]');
  assert.equal(await page.inputValue('[data-testid=org-paths]'), '/query /limits /search /queryAll');
  assert.equal(await page.locator('[data-testid=org-search-paths]').count(), 0);
  await page.click('form button[type=submit]');
  await page.locator('.confirm button', { hasText: 'Enable' }).click();
  await page.locator('[data-testid=status]', { hasText: /^Enabled$/ }).waitFor();
  await health.getByText('Not authorized yet.').waitFor();
  await shot('org-connection-enabled');

  step('Authorize: oidc-provider\'s login and consent pages, in this page');
  await page.click('[data-testid=org-authorize]');
  await page.waitForURL((u) => u.toString().startsWith(`${issuer}/interaction/`));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password: the development page takes any');
  await shot('org-connection-provider-login');
  await page.click('button[type=submit]');
  const consent = page.locator('form:has(input[name=prompt][value=consent]) button[type=submit]');
  await consent.waitFor();
  await shot('org-connection-provider-consent');
  await consent.click();

  step('back on the integration page through the server\'s callback, authorized');
  await page.waitForURL((u) => u.toString().startsWith(`${base}/console/integrations/demo-salesforce`));
  await health.getByText(`Authorized by ${email}`).waitFor();
  const shown = await health.textContent();
  assert.match(shown, /not used yet/, shown);
  assert.doesNotMatch(shown, /needs re-authorization/, shown);
  assert.equal(await page.locator('[data-testid=org-authorize]').textContent(), 'Authorize again');
  await shot('org-connection-authorized');

  step('Test connection: a real call with the org\'s token');
  await page.click('button:has-text("Test connection")');
  const result = page.locator('[data-testid=test-result]');
  await result.waitFor({ timeout: 30000 });
  assert.match(await result.textContent(), /^✓ /, await result.textContent());
  await shot('org-connection-tested');

  // The Rust side checks the grant at the provider while it is live.
  process.stdout.write('authorized\n');
  const go = await lines.next();
  assert.equal(go.value, 'revoke', 'the test says when to revoke');

  step('Revoke: gone from the server and at the provider');
  await page.click('[data-testid=org-revoke]');
  await page.getByRole('status').getByText('Revoked at the provider').waitFor();
  await health.getByText('Not authorized yet.').waitFor();
  assert.equal(await page.locator('[data-testid=org-revoke]').count(), 0, 'nothing left to revoke');
  assert.equal(await page.locator('[data-testid=test-result]').count(), 0, 'the test result from before the revoke is gone');
  assert.equal(await page.locator('[data-testid=org-authorize]').textContent(), 'Authorize');
  await shot('org-connection-revoked');

  assert.deepEqual(problems, [], 'no page errors or CSP violations');
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} finally {
  await browser.close();
}
process.exit(0);
