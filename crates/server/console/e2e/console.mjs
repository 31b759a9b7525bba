// Drives the real admin console in headless Chromium (Debian's, through
// playwright-core) against a running latchkey-server. Started by the Rust test
// crates/server/tests/console.rs, which passes:
//   BASE_URL        the server, e.g. http://127.0.0.1:PORT
//   SETUP_CODE      the one-time setup code the server issued at start
//   ADMIN_EMAIL, ADMIN_PASSWORD   the first admin to create
//   SCREENSHOT_DIR  where to save one PNG per page
//   ARTIFACT_PATH, ARTIFACT_SIGNATURE   a release artifact and its signature made with
//                   the update key the server checks (updates.public_key)
// Prints one JSON line (the enrolled device's token) for the Rust side's
// security checks; exits non-zero on any failed step.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const base = process.env.BASE_URL;
const setupCode = process.env.SETUP_CODE;
const email = process.env.ADMIN_EMAIL;
let password = process.env.ADMIN_PASSWORD;
const shots = process.env.SCREENSHOT_DIR;
const artifactPath = process.env.ARTIFACT_PATH;
const artifactSignature = process.env.ARTIFACT_SIGNATURE;
assert.ok(base && setupCode && email && password && shots, 'BASE_URL, SETUP_CODE, ADMIN_EMAIL, ADMIN_PASSWORD, SCREENSHOT_DIR');
assert.ok(artifactPath && artifactSignature, 'ARTIFACT_PATH, ARTIFACT_SIGNATURE');

const step = (s) => process.stderr.write(`console e2e: ${s}\n`);
const problems = [];

async function device(method, url, token, body, headers = {}) {
  const r = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
let result;
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 820 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on('request', (r) => { if (r.method() === 'PUT' && process.env.E2E_DEBUG) step('PUT ' + r.url() + ' ' + r.postData()); });
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });

  step('first-run setup from the printed link');
  await page.goto(`${base}/console/setup#code=${encodeURIComponent(setupCode)}`);
  assert.equal(await page.inputValue('input[name=code]'), setupCode, 'the link fills in the setup code');
  await page.fill('input[name=code]', 'lks_not-the-code');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.fill('input[name=confirm]', password);
  await page.click('button[type=submit]');
  const codeError = await page.locator('[data-error=code]').textContent();
  assert.match(codeError, /not valid or has expired/, 'the server\'s error shows next to the code field');
  await shot('setup');
  await page.fill('input[name=code]', setupCode);
  await page.click('button[type=submit]');
  await page.getByText(`Admin ${email} created`).waitFor();

  step('sign in (a wrong password first)');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', 'wrong password, surely');
  await page.click('button[type=submit]');
  assert.match(await page.locator('[data-error=password]').textContent(), /Wrong email or password/);
  await shot('sign-in');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Integrations', exact: true }).waitFor();
  await page.locator('li[data-integration=salesforce]').waitFor();
  await shot('integrations');

  step('search and filters');
  await page.fill('input[type=search]', 'sales');
  assert.equal(await page.locator('li[data-integration]').count(), 1, 'search narrows to Salesforce');
  await page.fill('input[type=search]', '');
  await page.selectOption('select[name=auth]', 'api_key');
  const apiKeyTiles = await page.locator('li[data-integration]').allTextContents();
  assert.ok(apiKeyTiles.length >= 3 && apiKeyTiles.every((t) => t.includes('API key')), 'auth filter');
  await page.selectOption('select[name=auth]', 'all');
  await page.selectOption('select[name=status]', 'enabled');
  await page.getByText('No integration matches these filters.').waitFor();
  await page.selectOption('select[name=status]', 'all');

  step('enable Salesforce in Sandbox with a client id');
  await page.locator('li[data-integration=salesforce] button').click();
  await page.getByRole('heading', { name: 'Salesforce', exact: true }).waitFor();
  assert.equal(await page.locator('[data-testid=callback-url]').textContent(), 'http://127.0.0.1:1717/OauthRedirect');
  assert.equal(await page.inputValue('input[name=scopes]'), 'api refresh_token openid', 'catalog default scopes');
  // An app registered like the Salesforce CLI's names localhost: the page shows exactly that URL.
  await page.check('input[name=redirect_host][value=localhost]');
  assert.equal(await page.locator('[data-testid=callback-url]').textContent(), 'http://localhost:1717/OauthRedirect');
  assert.match(await page.locator('[data-testid=search-scopes]').textContent(), /Users can search Salesforce records/);
  await page.fill('input[name=scopes]', 'refresh_token openid');
  assert.match(await page.locator('[data-testid=search-scopes]').textContent(), /Search needs one of these scopes: api full/, 'which scope to add');
  await page.fill('input[name=scopes]', 'api refresh_token openid');
  await page.check('input[name=environment][value=sandbox]');
  await page.click('form button[type=submit]');
  assert.match(await page.locator('[data-error=client_id]').textContent(), /client id/);
  await page.fill('input[name=client_id]', 'console-client-id');
  await page.fill('input[name=client_secret]', 'console-client-secret');
  await page.click('form button[type=submit]');
  await page.locator('.confirm').getByText('Sandbox').first().waitFor();
  await page.locator('.confirm button', { hasText: 'Enable' }).click();
  await page.locator('[data-testid=status]', { hasText: /^Enabled$/ }).waitFor();
  assert.equal(await page.locator('[data-testid=secret-state]').textContent(), 'set', 'the secret shows only as set');
  assert.equal(await page.inputValue('input[name=client_secret]'), '', 'the secret is not shown back');
  assert.ok(!(await page.content()).includes('console-client-secret'), 'the secret is nowhere in the page');
  // The default widgets: all the catalog offers until the admin unticks one.
  assert.ok(await page.isChecked('input[name=widget][value="salesforce.recent_accounts"]'), 'offered by default');
  await page.uncheck('input[name=widget][value="salesforce.recent_accounts"]');
  await page.locator('form button', { hasText: 'Save changes' }).click();
  await page.getByText('Saved. Salesforce is enabled.').waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Salesforce', exact: true }).waitFor();
  assert.ok(!(await page.isChecked('input[name=widget][value="salesforce.recent_accounts"]')), 'the choice was saved');
  await page.check('input[name=widget][value="salesforce.recent_accounts"]');
  await page.locator('form button', { hasText: 'Save changes' }).click();
  await page.getByText('Saved. Salesforce is enabled.').waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Salesforce', exact: true }).waitFor();
  await page.locator('[data-testid=callback-url]', { hasText: 'http://localhost:1717/OauthRedirect' }).waitFor();
  assert.ok(await page.isChecked('input[name=redirect_host][value=localhost]'), 'the choice was saved');
  step('test connection');
  await page.click('button:has-text("Test connection")');
  await page.locator('[data-testid=test-result]').waitFor({ timeout: 30000 });
  await shot('integration-salesforce');

  step('a custom login host the catalog refuses shows the server error at the field');
  await page.check('input[name=environment][value=custom]');
  await page.fill('input[name=custom_host]', 'login.evil.example');
  await page.click('form button[type=submit]');
  assert.match(await page.locator('[data-error=environment]').textContent(), /.+/);
  await page.check('input[name=environment][value=sandbox]');

  step('a second Salesforce connection, production beside the sandbox, named and unique');
  await page.click('nav >> text=Integrations');
  await page.locator('li[data-integration=salesforce] button', { hasText: 'Add connection' }).click();
  await page.getByRole('heading', { name: 'New Salesforce connection', exact: true }).waitFor();
  await page.fill('input[name=client_id]', 'prod-client-id');
  await page.click('form button[type=submit]');
  assert.match(await page.locator('[data-error=display_name]').textContent(), /Name this connection/);
  assert.match(await page.locator('[data-error=connection_id]').textContent(), /lowercase letters/);
  // The same system (Salesforce sandbox) under another name and id is refused by the server.
  await page.fill('input[name=display_name]', 'Salesforce — second sandbox');
  await page.fill('input[name=connection_id]', 'salesforce-sandbox-2');
  await page.check('input[name=environment][value=sandbox]');
  await page.click('form button[type=submit]');
  await page.locator('.confirm button', { hasText: 'Enable' }).click();
  assert.match(await page.locator('[data-error=environment]').textContent(), /already connects to this system/);
  await page.check('input[name=environment][value=production]');
  await page.fill('input[name=display_name]', 'Salesforce — Production');
  await page.fill('input[name=connection_id]', 'salesforce-prod');
  await page.click('form button[type=submit]');
  await page.locator('.confirm', { hasText: 'Enable Salesforce — Production?' }).waitFor();
  await page.locator('.confirm button', { hasText: 'Enable' }).click();
  await page.getByRole('heading', { name: 'Salesforce — Production', exact: true }).waitFor();
  await page.locator('[data-testid=status]', { hasText: /^Enabled$/ }).waitFor();
  assert.equal(await page.locator('[data-testid=connection-id]').textContent(), 'salesforce-prod');
  // Each user gives their own My Domain when they connect.
  await page.check('input[name=ask_login_host]');
  await page.locator('form button', { hasText: 'Save changes' }).click();
  await page.getByText('Saved. Salesforce — Production is enabled.').waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Salesforce — Production', exact: true }).waitFor();
  assert.ok(await page.isChecked('input[name=ask_login_host]'), 'asking users for their login host was saved');
  await page.click('nav >> text=Integrations');
  await page.locator('li[data-integration=salesforce] li[data-connection=salesforce-prod]', { hasText: 'Production' }).waitFor();
  assert.match(await page.locator('li[data-integration=salesforce] li[data-connection=salesforce]').textContent(), /Sandbox/);
  await shot('integrations-two-salesforce');

  step('enable an API-key integration (OpenAI)');
  await page.goto(`${base}/console/integrations/openai`);
  await page.getByRole('heading', { name: 'OpenAI', exact: true }).waitFor();
  await page.click('form button[type=submit]');
  assert.match(await page.locator('[data-error=secret]').textContent(), /API key/);
  await page.fill('input[name=api_key]', 'sk-console-test-key');
  await page.click('form button[type=submit]');
  await page.locator('.confirm button', { hasText: 'Enable' }).click();
  await page.locator('[data-testid=status]', { hasText: /^Enabled$/ }).waitFor();
  assert.equal(await page.locator('[data-testid=secret-state]').textContent(), 'set');
  assert.ok(!(await page.content()).includes('sk-console-test-key'), 'the key is nowhere in the page');
  await shot('integration-openai');

  step('invite a user and enroll a device with the code');
  await page.click('nav >> text=Users');
  await page.getByText('No users yet').waitFor();

  step('provisioning: a SCIM token shown once; the identity provider makes a user; revoked, it stops working');
  await page.click('nav >> text=Provisioning');
  await page.getByRole('heading', { name: 'Provisioning (SCIM)', exact: true }).waitFor();
  assert.equal((await page.locator('[data-testid=scim-base-url]').textContent()).trim(), `${base}/scim/v2`);
  await page.fill('input[name=scim_token_name]', 'Okta');
  await page.click('[data-testid=new-scim-token] button[type=submit]');
  const scimToken = (await page.locator('[data-testid=scim-token-value]').textContent()).trim();
  assert.match(scimToken, /^lkp_/);
  const scimHeaders = { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' };
  const provisioned = await fetch(`${base}/scim/v2/Users`, {
    method: 'POST', headers: scimHeaders,
    body: JSON.stringify({ userName: 'linus@example.com', name: { givenName: 'Linus', familyName: 'T' } }),
  });
  assert.equal(provisioned.status, 201);
  await shot('provisioning');
  await page.click('nav >> text=Users');
  await page.locator('[data-testid=provisioned-by-scim]').waitFor();
  const linus = (await provisioned.json()).id;
  const removed = await fetch(`${base}/scim/v2/Users/${linus}`, { method: 'DELETE', headers: scimHeaders });
  assert.equal(removed.status, 204);
  await page.click('nav >> text=Provisioning');
  await page.locator('tr[data-scim-token="Okta"] button', { hasText: 'Revoke' }).click();
  await page.locator('tr[data-scim-token="Okta"]', { hasText: 'revoked' }).waitFor();
  const afterRevoke = await fetch(`${base}/scim/v2/Users`, { headers: scimHeaders });
  assert.equal(afterRevoke.status, 401);
  await page.click('nav >> text=Users');
  await page.getByText('No users yet').waitFor();
  await page.fill('input[name=invite_email]', 'ada@example.com');
  await page.fill('input[name=display_name]', 'Ada Lovelace');
  await page.click('form button[type=submit]');
  const code = (await page.locator('[data-testid=enroll-code]').textContent()).trim();
  const link = (await page.locator('[data-testid=enroll-link]').textContent()).trim();
  assert.match(code, /^lke_/);
  await shot('users-invite');
  assert.ok(link.startsWith('latchkey://enroll?server=') && link.includes(encodeURIComponent(code)), link);
  await page.fill('input[name=invite_email]', 'ada@example.com');
  await page.fill('input[name=display_name]', 'Ada again');
  await page.click('form button[type=submit]');
  assert.match(await page.locator('[data-error=email]').textContent(), /already exists/, 'duplicate email: server error at the field');
  const enrolled = await device('POST', '/v1/enroll', '', { code, device_name: 'Ada laptop' });
  assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
  const token = enrolled.body.device_token;

  step('the device sees Salesforce (sandbox) and OpenAI');
  const mine = await device('GET', '/v1/integrations', token);
  const sf = mine.body.integrations.find((i) => i.id === 'salesforce');
  assert.equal(sf.environment, 'sandbox');
  assert.equal(sf.client_id, 'console-client-id');
  const prod = mine.body.integrations.find((i) => i.id === 'salesforce-prod');
  assert.equal(prod.provider, 'salesforce');
  assert.equal(prod.display_name, 'Salesforce — Production');
  assert.equal(prod.environment, 'production');
  assert.equal(prod.client_id, 'prod-client-id');
  assert.deepEqual(prod.ask.map((a) => a.name), ['login_host'], 'the device is asked for its My Domain');
  assert.equal(sf.display_name, 'Salesforce');
  const oa = mine.body.integrations.find((i) => i.id === 'openai');
  assert.equal(oa.kind, 'api_key');
  assert.ok(!JSON.stringify(mine.body).includes('sk-console-test-key'), 'API keys never reach devices');
  const put = await device('PUT', '/v1/records/salesforce/sandbox/vk1', token, { envelope: Buffer.from('sealed').toString('base64') }, { 'if-none-match': '*' });
  assert.equal(put.status, 201, JSON.stringify(put.body));

  step('limit Salesforce to Ada');
  await page.goto(`${base}/console/integrations/salesforce`);
  await page.check('input[name=audience][value=false]');
  await page.locator('label', { hasText: 'ada@example.com' }).locator('input').check();
  await page.locator('form button', { hasText: 'Save changes' }).click();
  await page.getByText('Saved. Salesforce is enabled.').waitFor();
  const limited = await device('GET', '/v1/integrations', token);
  assert.ok(limited.body.integrations.some((i) => i.id === 'salesforce'), 'Ada is on the list');
  await page.reload();
  assert.ok(await page.isChecked('input[name=audience][value=false]'), 'the list is kept');
  await page.check('input[name=audience][value=true]');
  await page.locator('form button', { hasText: 'Save changes' }).click();
  await page.getByText('Saved. Salesforce is enabled.').waitFor();

  step('the connection matrix, then disconnect');
  await page.click('nav >> text=Users');
  const sfCell = page.locator('[data-cell="ada@example.com:salesforce"]');
  await sfCell.getByText('connected').waitFor();
  assert.match(await sfCell.textContent(), /sandbox · Ada laptop/);
  assert.match(await page.locator('[data-cell="ada@example.com:openai"]').textContent(), /connected/);
  await page.locator('[data-device="Ada laptop"]').waitFor();
  // Which device redeemed the code, and when.
  assert.match(
    await page.locator('tr[data-user="ada@example.com"] [data-code-status=redeemed]').textContent(),
    /redeemed by Ada laptop/,
  );
  await shot('users');
  await sfCell.getByRole('button', { name: 'Disconnect' }).click();
  await sfCell.locator('[data-testid=revocation-pending]', { hasText: 'revocation pending on 1 device' }).waitFor();
  assert.match(await sfCell.textContent(), /Waiting for Ada laptop/);
  const records = await device('GET', '/v1/records', token);
  assert.equal(records.body.records.length, 0, 'disconnect deleted the record');

  step('the device answers the order; the console shows the receipt');
  const orders = await device('GET', '/v1/revocation-orders', token);
  assert.equal(orders.body.orders.length, 1, JSON.stringify(orders.body));
  const answered = await device('POST', `/v1/revocation-orders/${orders.body.orders[0].id}/receipt`, token, {
    provider: 'not_supported', detail: 'Salesforce refused: unsupported_token_type; remove Latchkey\'s access at https://login.salesforce.com', local_wiped: true,
  });
  assert.equal(answered.status, 200, JSON.stringify(answered.body));
  await page.reload();
  await sfCell.locator('[data-testid=revocation-done]').waitFor();
  assert.match(await sfCell.textContent(), /Ada laptop: the provider has no revocation, copy wiped/);
  await shot('users-revocation');

  async function until(check, what) {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  step('upload a signed release; the device is offered it; its app version shows');
  await page.click('nav >> text=Releases');
  await page.getByText('No releases yet').waitFor();
  await page.setInputFiles('input[name=artifact]', artifactPath);
  await page.fill('textarea[name=signature]', Buffer.from('not a signature').toString('base64'));
  await page.fill('input[name=version]', '0.2.0');
  await page.fill('textarea[name=notes]', 'Faster sign-in.');
  await page.click('form button[type=submit]');
  assert.match(await page.locator('[data-error=signature]').textContent(), /updates\.public_key/, 'a bad signature is refused at its field');
  await page.fill('textarea[name=signature]', artifactSignature);
  await page.click('form button[type=submit]');
  await page.locator('[data-testid=uploaded]').waitFor();
  const releaseRow = page.locator('tr[data-release="0.2.0 linux/x86_64"]');
  await releaseRow.waitFor();
  assert.equal(await releaseRow.locator('input[name=release_channel]').inputValue(), 'stable');
  await shot('releases');
  const offer = await device('GET', '/v1/updates/linux/x86_64/0.1.0', token);
  assert.equal(offer.status, 200, JSON.stringify(offer.body));
  assert.equal(offer.body.version, '0.2.0');
  assert.equal(offer.body.notes, 'Faster sign-in.');
  assert.equal(offer.body.signature, artifactSignature);
  const artifactDownload = await fetch(offer.body.url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(artifactDownload.status, 200);
  assert.ok(Buffer.from(await artifactDownload.arrayBuffer()).equals(await readFile(artifactPath)), 'the download is the upload');
  await page.click('nav >> text=Users');
  const app = page.locator('[data-app-of="Ada laptop"]');
  await app.locator('[data-testid=app-version]', { hasText: '0.1.0' }).waitFor();
  assert.match(await app.textContent(), /linux\/x86_64/);
  const channelInput = page.getByLabel('Update channel of Ada laptop');
  await channelInput.fill('beta');
  await channelInput.press('Enter');
  await until(async () => (await device('GET', '/v1/updates/linux/x86_64/0.1.0', token)).status === 204, 'the device on beta is not offered the stable release');
  await page.reload();
  assert.equal(await page.getByLabel('Update channel of Ada laptop').inputValue(), 'beta');
  await shot('users-app-version');

  step('the audit log: filter, paginate, export');
  await page.click('nav >> text=Audit log');
  await page.locator('tr[data-action="integration.put"]').first().waitFor();
  const rows = () => page.locator('tbody tr').allTextContents();
  await page.selectOption('select[name=action]', 'connection.disconnect');
  await until(async () => (await rows()).length === 1, 'the action filter');
  await page.selectOption('select[name=action]', '');
  await page.selectOption('select[name=integration]', 'salesforce');
  await until(async () => {
    const r = await rows();
    return r.length >= 3 && r.every((x) => !x.includes('openai')) && r.some((x) => x.includes('connection.disconnect'));
  }, 'the integration filter');
  await page.selectOption('select[name=user]', { label: 'ada@example.com' });
  await until(async () => {
    const r = await rows();
    // Ada's device wrote a Salesforce record, then the admin disconnected her.
    return r.length === 2 && r[0].includes('connection.disconnect') && r[1].includes('record.put');
  }, 'the user and integration filters together');
  await page.selectOption('select[name=user]', '');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export CSV")')]);
  const csv = await readFile(await download.path(), 'utf8');
  assert.match(csv, /^"time","actor_kind"/);
  assert.match(csv, /"connection.disconnect"/);
  assert.ok(!/sk-console-test-key|console-client-secret|lke_|lkd_/.test(csv), 'no secret in the export');
  await page.selectOption('select[name=integration]', '');
  await shot('audit');

  step('account: a named API token, listed with its last use, then revoked');
  await page.click('nav >> text=Account');
  await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
  await page.fill('input[name=token_name]', 'CI deploy');
  await page.click('[data-testid=new-token] button[type=submit]');
  const apiToken = (await page.locator('[data-testid=token-value]').textContent()).trim();
  assert.match(apiToken, /^lka_/);
  const usedToken = await fetch(`${base}/v1/admin/users`, { headers: { authorization: `Bearer ${apiToken}` } });
  assert.equal(usedToken.status, 200);
  await page.reload();
  const tokenRow = page.locator('tr[data-token="CI deploy"]');
  await tokenRow.waitFor();
  assert.doesNotMatch(await tokenRow.textContent(), /never/, 'its last use is shown');
  assert.ok(!(await page.content()).includes(apiToken), 'the token is not shown again');

  step('account: a second admin; the owner removes them and their token dies');
  await page.fill('input[name=admin_email]', 'grace@example.com');
  await page.fill('input[name=admin_password]', 'short');
  await page.click('[data-testid=add-admin] button[type=submit]');
  assert.match(await page.locator('[data-error=admin_password]').textContent(), /12 characters/);
  await page.fill('input[name=admin_password]', 'grace has a long password');
  await page.click('[data-testid=add-admin] button[type=submit]');
  await page.locator('tr[data-admin="grace@example.com"]').waitFor();
  const graceLogin = await fetch(`${base}/v1/admin/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'grace@example.com', password: 'grace has a long password' }),
  });
  assert.equal(graceLogin.status, 200);
  const graceCookie = graceLogin.headers.get('set-cookie').split(';')[0];
  const graceCsrf = (await graceLogin.json()).csrf_token;
  const graceToken = await fetch(`${base}/v1/admin/tokens`, {
    method: 'POST', headers: { cookie: graceCookie, 'x-csrf-token': graceCsrf, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'grace laptop' }),
  }).then((r) => r.json());
  await page.check('input[name=all_tokens]');
  await page.locator('tr[data-token="grace laptop"]', { hasText: 'grace@example.com' }).waitFor();
  await shot('account');
  await page.locator('tr[data-admin="grace@example.com"] button', { hasText: 'Remove…' }).click();
  await page.locator('tr[data-admin="grace@example.com"] button', { hasText: /^Remove$/ }).click();
  await page.locator('tr[data-admin="grace@example.com"]').waitFor({ state: 'detached' });
  const graceAfter = await fetch(`${base}/v1/admin/users`, { headers: { authorization: `Bearer ${graceToken.token}` } });
  assert.equal(graceAfter.status, 401, 'a removed admin\'s token stops at once');
  await tokenRow.getByRole('button', { name: 'Revoke' }).click();
  await tokenRow.waitFor({ state: 'detached' });
  const revokedToken = await fetch(`${base}/v1/admin/users`, { headers: { authorization: `Bearer ${apiToken}` } });
  assert.equal(revokedToken.status, 401, 'a revoked token stops at once');

  step('account: change the password (a wrong current one first)');
  await page.fill('input[name=current_password]', 'not my password at all');
  await page.fill('input[name=new_password]', 'a new and longer password');
  await page.fill('input[name=confirm_password]', 'a new and longer password');
  await page.click('[data-testid=password] button[type=submit]');
  assert.match(await page.locator('[data-error=current]').textContent(), /not right/);
  await page.fill('input[name=current_password]', password);
  await page.click('[data-testid=password] button[type=submit]');
  await page.getByText('Password changed.').waitFor();
  password = 'a new and longer password';

  step('revoke the device, remove the user');
  await page.click('nav >> text=Users');
  await page.locator('[data-device="Ada laptop"] button', { hasText: 'Revoke' }).click();
  await page.locator('[data-device="Ada laptop"]').getByText('revoked').waitFor();
  assert.equal((await device('GET', '/v1/me', token)).status, 401, 'a revoked device is refused at once');
  await page.locator('tr[data-user="ada@example.com"] button', { hasText: 'Remove…' }).click();
  await page.locator('tr[data-user="ada@example.com"] button', { hasText: /^Remove$/ }).click();
  await page.getByText('No users yet').waitFor();

  step('disable OpenAI, with a confirmation that says what happens');
  await page.goto(`${base}/console/integrations/openai`);
  await page.locator('form button', { hasText: /^Disable$/ }).click();
  assert.match(await page.locator('.confirm').textContent(), /connection is deleted from this server/);
  await page.locator('.confirm button', { hasText: /^Disable$/ }).click();
  await page.locator('[data-testid=status]', { hasText: /^Disabled$/ }).waitFor();
  await page.click('nav >> text=Integrations');
  await page.selectOption('select[name=status]', 'enabled');
  assert.deepEqual(
    await page.locator('li[data-integration]').evaluateAll((els) => els.map((e) => e.dataset.integration)),
    ['salesforce'],
  );

  step('an expired session returns to sign-in with a message');
  // An expired session is one the server no longer accepts; dropping the cookie is
  // exactly what the browser does at Max-Age, so the next call answers 401.
  await context.clearCookies();
  await page.click('nav >> text=Users');
  await page.getByText('Your session has ended. Sign in again.').waitFor();
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.locator('button:has-text("Sign out")').waitFor();

  step('sign out');
  await page.click('button:has-text("Sign out")');
  await page.getByText('You are signed out.').waitFor();

  assert.deepEqual(problems, [], 'no page errors and no CSP violations');
  result = { device_token: token, admin_password: password };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
