// Smoke test of the test peers: the real authorization server (oidc-server.mjs) and the real
// "system browser" (the `browser` wrapper: headless Debian chromium via playwright-core).
// Run: `npm test` here, or scripts/test-peers.sh from the repo root.
// It plays the part the Rust connect engine will play: loopback listener, PKCE S256, state, iss,
// code exchange, refresh (with and without rotation), userinfo, introspection, revocation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const BROWSER = join(HERE, 'browser');
const LOGIN = 'ada@acme.example';
const ACCESS_TOKEN_TTL = 30;
const ARTIFACTS = process.env.LATCHKEY_TEST_ARTIFACTS || join(HERE, '..', '..', 'test-output', 'peers');

// ---------------------------------------------------------------------------------------------
// Helpers (the same moves the Rust tests will make)
// ---------------------------------------------------------------------------------------------

/** Starts oidc-server.mjs; resolves once its single JSON readiness line arrives on stdout. */
async function startServer(extraEnv = {}) {
  const proc = spawn(process.execPath, [join(HERE, 'oidc-server.mjs')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LATCHKEY_TEST_CONTROLS: '1', ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL), ...extraEnv },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: proc.stdout });
  const stdoutLines = [];
  lines.on('line', (l) => stdoutLines.push(l));
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-server not ready in 20s; stderr:\n${stderr}`)), 20_000);
    lines.once('line', (l) => { clearTimeout(timer); resolve(JSON.parse(l)); });
    proc.once('exit', (c) => { clearTimeout(timer); reject(new Error(`oidc-server exited ${c}; stderr:\n${stderr}`)); });
  });
  const exited = new Promise((r) => { proc.once('exit', (code, signal) => r({ code, signal })); });
  return {
    ...ready,
    proc,
    exited,
    stdoutLines,
    stderr: () => stderr,
    async stop() {
      proc.stdin.end();
      await exited;
    },
  };
}

/** A one-shot loopback listener like the connect engine's: 127.0.0.1, OS port unless given. */
async function startListener(path, port = 0) {
  const hits = [];
  let resolveHit;
  const firstHit = new Promise((r) => { resolveHit = r; });
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    hits.push(url);
    const error = url.searchParams.get('error');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(error ? `Not connected: ${error}. You can close this tab.` : 'Connected to demo, you can close this tab.');
    resolveHit(url);
  });
  await new Promise((ok, ko) => { server.once('error', ko); server.listen(port, '127.0.0.1', ok); });
  const actual = server.address().port;
  return {
    port: actual,
    redirectUri: `http://127.0.0.1:${actual}${path}`,
    hits,
    firstHit,
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}

function pkce() {
  const verifier = randomBytes(48).toString('base64url'); // 64 chars
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizationUrl(issuer, { clientId, redirectUri, state, challenge, scope = 'openid offline_access profile email api' }) {
  const u = new URL(`${issuer}/auth`);
  u.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return u.href;
}

/** Runs the `browser` wrapper exactly as $BROWSER would be run; resolves with exit code + stderr. */
function runBrowser(url, extraEnv = {}, command = BROWSER, args = [url]) {
  return new Promise((resolve) => {
    const p = spawn(command, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LATCHKEY_TEST_ARTIFACTS: ARTIFACTS, LATCHKEY_TEST_BROWSER_TIMEOUT: '45', ...extraEnv },
    });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

async function post(issuer, path, form) {
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let body;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}

async function control(issuer, path, body) {
  const res = await fetch(`${issuer}/__test/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 200, `/__test/${path}`);
  return res.json();
}

/** Full connect through the real browser; returns the tokens and what the callback carried. */
async function connect(issuer, clientId, { path = '/callback/demo', browserEnv = {}, port = 0, opener } = {}) {
  const listener = await startListener(path, port);
  try {
    const { verifier, challenge } = pkce();
    const state = randomBytes(16).toString('base64url');
    const url = authorizationUrl(issuer, { clientId, redirectUri: listener.redirectUri, state, challenge });
    const b = opener ? await runBrowser(url, browserEnv, opener, [url]) : await runBrowser(url, browserEnv);
    assert.equal(b.code, 0, `browser failed:\n${b.stderr}`);
    assert.equal(listener.hits.length, 1, 'exactly one callback');
    const cb = listener.hits[0];
    return { cb, state, verifier, redirectUri: listener.redirectUri, browserStderr: b.stderr };
  } finally {
    await listener.close();
  }
}

async function exchange(issuer, clientId, { cb, verifier, redirectUri }) {
  return post(issuer, '/token', {
    grant_type: 'authorization_code',
    code: cb.searchParams.get('code'),
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: clientId,
  });
}

// ---------------------------------------------------------------------------------------------

let server;
before(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  server = await startServer();
});
after(async () => {
  if (server) await server.stop();
});

test('readiness line and discovery metadata', async () => {
  assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.issuer, `http://127.0.0.1:${server.port}`);
  assert.equal(server.stdoutLines.length, 1, 'stdout holds only the readiness line');
  const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
  assert.equal(meta.issuer, server.issuer);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  assert.equal(meta.revocation_endpoint, `${server.issuer}/token/revocation`);
  assert.equal(meta.introspection_endpoint, `${server.issuer}/token/introspection`);
  assert.equal(meta.userinfo_endpoint, `${server.issuer}/me`);
  for (const s of ['openid', 'offline_access', 'profile', 'email', 'api']) assert.ok(meta.scopes_supported.includes(s), s);
});

test('connect, refresh with rotation, userinfo, introspect, revoke (latchkey-rotating)', async () => {
  await control(server.issuer, 'reset', {});
  const clientId = 'latchkey-rotating';
  const flow = await connect(server.issuer, clientId);
  const { cb } = flow;
  assert.equal(cb.searchParams.get('state'), flow.state, 'state round-trips');
  assert.equal(cb.searchParams.get('iss'), server.issuer, 'RFC 9207 iss');
  assert.ok(cb.searchParams.get('code'), 'code present');
  assert.match(flow.browserStderr, /Connected to demo/, 'browser printed the callback page text');

  // The token request must repeat the exact redirect URI, port included.
  const tok = await exchange(server.issuer, clientId, flow);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  const t1 = tok.body;
  assert.ok(t1.access_token && t1.refresh_token && t1.id_token, 'access, refresh and id tokens');
  assert.equal(t1.token_type, 'Bearer');
  assert.ok(t1.expires_in <= ACCESS_TOKEN_TTL && t1.expires_in > ACCESS_TOKEN_TTL - 5, `expires_in ${t1.expires_in} follows ACCESS_TOKEN_TTL`);
  assert.ok(t1.scope.split(' ').includes('api'));

  // Replaying the code fails.
  const replay = await exchange(server.issuer, clientId, flow);
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');

  // The code replay revoked that grant (oidc-provider does so); connect again for the rest.
  const flow2 = await connect(server.issuer, clientId);
  const tok2 = await exchange(server.issuer, clientId, flow2);
  assert.equal(tok2.status, 200, JSON.stringify(tok2.body));
  const t2 = tok2.body;

  const me = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${t2.access_token}` } });
  assert.equal(me.status, 200);
  const claims = await me.json();
  assert.equal(claims.sub, LOGIN);
  assert.equal(claims.email, LOGIN);

  const r = await post(server.issuer, '/token', { grant_type: 'refresh_token', refresh_token: t2.refresh_token, client_id: clientId });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.access_token && r.body.access_token !== t2.access_token);
  assert.ok(r.body.refresh_token, 'rotated refresh token returned');
  assert.notEqual(r.body.refresh_token, t2.refresh_token, 'rotation: a new refresh token');

  let intro = await post(server.issuer, '/token/introspection', { token: r.body.refresh_token, client_id: clientId });
  assert.equal(intro.status, 200);
  assert.equal(intro.body.active, true);
  assert.equal(intro.body.client_id, clientId);
  assert.equal(intro.body.sub, LOGIN);

  const rev = await post(server.issuer, '/token/revocation', { token: r.body.refresh_token, token_type_hint: 'refresh_token', client_id: clientId });
  assert.equal(rev.status, 200);

  intro = await post(server.issuer, '/token/introspection', { token: r.body.refresh_token, client_id: clientId });
  assert.equal(intro.status, 200);
  assert.equal(intro.body.active, false, 'revoked refresh token is inactive');

  const stats = await control(server.issuer, 'stats');
  assert.deepEqual(stats.token, { authorization_code: 3, refresh_token: 1 });
  assert.equal(stats.token_total, 4);
  assert.equal(stats.revocation, 1);
  assert.equal(stats.introspection, 2);
  assert.equal(stats.userinfo, 1);
  assert.equal(stats.authorization, 2);
  assert.deepEqual(stats.injected_failures, {});
  const refreshes = stats.requests.filter((q) => q.grant_type === 'refresh_token');
  assert.equal(refreshes.length, 1);
  assert.equal(refreshes[0].status, 200);
  const statsText = JSON.stringify(stats);
  for (const secret of [t2.access_token, t2.refresh_token, r.body.refresh_token, flow2.verifier]) {
    assert.ok(!statsText.includes(secret), 'stats never hold a token or verifier');
  }
});

test('refresh without rotation keeps the refresh token (latchkey-static)', async () => {
  await control(server.issuer, 'reset', {});
  const clientId = 'latchkey-static';
  const flow = await connect(server.issuer, clientId, { path: '/callback/oidc-test-static' });
  assert.equal(flow.cb.searchParams.get('state'), flow.state);
  assert.equal(flow.cb.searchParams.get('iss'), server.issuer);
  const tok = await exchange(server.issuer, clientId, flow);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  const rt = tok.body.refresh_token;
  assert.ok(rt);
  for (let i = 0; i < 2; i += 1) {
    const r = await post(server.issuer, '/token', { grant_type: 'refresh_token', refresh_token: rt, client_id: clientId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.access_token);
    assert.ok(r.body.refresh_token === undefined || r.body.refresh_token === rt, 'no rotation: same (or no) refresh token');
  }
  const rev = await post(server.issuer, '/token/revocation', { token: rt, client_id: clientId });
  assert.equal(rev.status, 200);
  const again = await post(server.issuer, '/token', { grant_type: 'refresh_token', refresh_token: rt, client_id: clientId });
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant', 'revoked refresh token no longer refreshes');
  const stats = await control(server.issuer, 'stats');
  assert.deepEqual(stats.token, { authorization_code: 1, refresh_token: 3 });
  assert.equal(stats.revocation, 1);
});

test('denied consent reaches the client as error=access_denied', async () => {
  await control(server.issuer, 'reset', {});
  const flow = await connect(server.issuer, 'latchkey-rotating', { browserEnv: { LATCHKEY_TEST_CONSENT: 'deny' } });
  assert.equal(flow.cb.searchParams.get('error'), 'access_denied');
  assert.equal(flow.cb.searchParams.get('code'), null);
  assert.equal(flow.cb.searchParams.get('state'), flow.state);
  assert.equal(flow.cb.searchParams.get('iss'), server.issuer);
  const stats = await control(server.issuer, 'stats');
  assert.equal(stats.token_total, 0);
});

test('a persistent browser profile skips the login page the second time', async () => {
  const profile = mkdtempSync(join(tmpdir(), 'latchkey-browser-profile-'));
  try {
    const first = await connect(server.issuer, 'latchkey-rotating', { browserEnv: { LATCHKEY_TEST_BROWSER_PROFILE: profile } });
    assert.match(first.browserStderr, /login page/);
    const second = await connect(server.issuer, 'latchkey-rotating', { browserEnv: { LATCHKEY_TEST_BROWSER_PROFILE: profile } });
    assert.doesNotMatch(second.browserStderr, /login page/);
    assert.match(second.browserStderr, /consent page/, 'native clients always get the consent page');
    assert.ok(second.cb.searchParams.get('code'));
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});

test('open-only mode loads the page and clicks nothing', async () => {
  const listener = await startListener('/callback/demo');
  try {
    const { challenge } = pkce();
    const url = authorizationUrl(server.issuer, { clientId: 'latchkey-rotating', redirectUri: listener.redirectUri, state: 's', challenge });
    const b = await runBrowser(url, { LATCHKEY_TEST_BROWSER_MODE: 'open-only' });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /clicked nothing/);
    assert.equal(listener.hits.length, 0);
  } finally {
    await listener.close();
  }
});

test('xdg-open reaches the test browser: through $BROWSER, and with a display through the xdg handler', async () => {
  const noDisplay = { BROWSER, DISPLAY: '', WAYLAND_DISPLAY: '', XDG_CURRENT_DESKTOP: '' };
  const a = await connect(server.issuer, 'latchkey-static', { opener: 'xdg-open', browserEnv: noDisplay });
  assert.ok(a.cb.searchParams.get('code'));

  // With DISPLAY set, xdg-open would ask xdg-mime first (chromium.desktop): route it to us.
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-xdg-'));
  try {
    const exports = execFileSync(join(HERE, 'xdg-default-browser.sh'), [dir], { encoding: 'utf8' });
    const env = { ...noDisplay, DISPLAY: ':99' };
    for (const m of exports.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]] = m[2];
    assert.ok(env.XDG_DATA_DIRS.startsWith(dir));
    const b = await connect(server.issuer, 'latchkey-static', { opener: 'xdg-open', browserEnv: env });
    assert.ok(b.cb.searchParams.get('code'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a redirect URI that is not registered never reaches the listener', async () => {
  const listener = await startListener('/callback/not-registered');
  try {
    const { challenge } = pkce();
    const url = authorizationUrl(server.issuer, { clientId: 'latchkey-rotating', redirectUri: listener.redirectUri, state: 's', challenge });
    const b = await runBrowser(url);
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /redirect_uri/);
    assert.equal(listener.hits.length, 0);
  } finally {
    await listener.close();
  }
});

test('fixed-port client: only its registered port is accepted (latchkey-fixed-port)', async (t) => {
  // Wrong port: the provider refuses with an error page.
  const wrong = await startListener('/OauthRedirect');
  try {
    const { challenge } = pkce();
    const url = authorizationUrl(server.issuer, { clientId: 'latchkey-fixed-port', redirectUri: wrong.redirectUri, state: 's', challenge });
    const b = await runBrowser(url);
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /redirect_uri/);
    assert.equal(wrong.hits.length, 0);
  } finally {
    await wrong.close();
  }
  // Registered port 17171: the whole flow works (skipped if something else holds the port).
  let flow;
  try {
    flow = await connect(server.issuer, 'latchkey-fixed-port', { path: '/OauthRedirect', port: 17171 });
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      t.skip('port 17171 is taken on this machine: the full fixed-port flow was not run');
      return;
    }
    throw err;
  }
  assert.equal(flow.redirectUri, 'http://127.0.0.1:17171/OauthRedirect');
  const tok = await exchange(server.issuer, 'latchkey-fixed-port', flow);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  assert.ok(tok.body.refresh_token);
});

test('ACCESS_TOKEN_TTL makes short-lived access tokens; refresh still works after expiry', async () => {
  const short = await startServer({ ACCESS_TOKEN_TTL: '2' });
  try {
    const clientId = 'latchkey-static';
    const flow = await connect(short.issuer, clientId);
    const tok = await exchange(short.issuer, clientId, flow);
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    assert.ok(tok.body.expires_in <= 2);
    const ok = await fetch(`${short.issuer}/me`, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
    assert.equal(ok.status, 200);
    await ok.text();
    await new Promise((r) => { setTimeout(r, 3000); });
    const expired = await fetch(`${short.issuer}/me`, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
    assert.equal(expired.status, 401, 'expired access token refused');
    await expired.text();
    const intro = await post(short.issuer, '/token/introspection', { token: tok.body.access_token, client_id: clientId });
    assert.equal(intro.body.active, false);
    const r = await post(short.issuer, '/token', { grant_type: 'refresh_token', refresh_token: tok.body.refresh_token, client_id: clientId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const fresh = await fetch(`${short.issuer}/me`, { headers: { authorization: `Bearer ${r.body.access_token}` } });
    assert.equal(fresh.status, 200);
    await fresh.text();
  } finally {
    await short.stop();
  }
});

test('/__test/fail injects outages with Retry-After, then the endpoint works again', async () => {
  await control(server.issuer, 'reset', {});
  await control(server.issuer, 'fail', { path: '/token/revocation', status: 503, count: 2, retry_after: 1 });
  for (let i = 0; i < 2; i += 1) {
    const r = await post(server.issuer, '/token/revocation', { token: 'nope', client_id: 'latchkey-rotating' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(r.body.error, 'temporarily_unavailable');
  }
  const ok = await post(server.issuer, '/token/revocation', { token: 'nope', client_id: 'latchkey-rotating' });
  assert.equal(ok.status, 200, 'third request reaches the provider (200 even for an unknown token)');

  // status 0 drops the connection (a network error); delay_ms alone only slows the request.
  await control(server.issuer, 'fail', { path: '/token', status: 0 });
  await assert.rejects(post(server.issuer, '/token', { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'latchkey-rotating' }));
  await control(server.issuer, 'fail', { path: '/token', delay_ms: 300 });
  const t0 = Date.now();
  const slow = await post(server.issuer, '/token', { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'latchkey-rotating' });
  assert.ok(Date.now() - t0 >= 290);
  assert.equal(slow.body.error, 'invalid_grant');

  const stats = await control(server.issuer, 'stats');
  assert.equal(stats.revocation, 3);
  assert.deepEqual(stats.injected_failures, { '/token/revocation': 2, '/token': 1 });
  assert.deepEqual(stats.token, { refresh_token: 2 });
  assert.deepEqual(stats.pending_failures, []);
  await control(server.issuer, 'reset', {});
  assert.equal((await control(server.issuer, 'stats')).revocation, 0);
});

test('the server exits when its stdin closes, and on SIGTERM; controls are off by default', async () => {
  const a = await startServer({ LATCHKEY_TEST_CONTROLS: '0' });
  const res = await fetch(`${a.issuer}/__test/stats`);
  assert.equal(res.status, 404, 'no control endpoints without LATCHKEY_TEST_CONTROLS=1');
  await res.text();
  a.proc.stdin.end();
  const ea = await Promise.race([a.exited, new Promise((r) => { setTimeout(() => r('still running'), 5000); })]);
  assert.deepEqual(ea, { code: 0, signal: null });

  const b = await startServer();
  b.proc.kill('SIGTERM');
  const eb = await Promise.race([b.exited, new Promise((r) => { setTimeout(() => r('still running'), 5000); })]);
  assert.deepEqual(eb, { code: 0, signal: null });
});

test('failed browser runs left a screenshot in LATCHKEY_TEST_ARTIFACTS', () => {
  // The two refused redirect URIs above each made the browser fail and save its page.
  const pngs = readdirSync(ARTIFACTS).filter((f) => f.endsWith('-provider-error.png'));
  assert.equal(pngs.length, 2, `screenshots: ${pngs.join(', ')}`);
  for (const f of pngs) {
    assert.deepEqual([...readFileSync(join(ARTIFACTS, f)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
  }
});
