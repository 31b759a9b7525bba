#!/usr/bin/env node
// The "system browser" for Latchkey's tests: Debian's chromium, headless, driven by playwright-core.
// Usage: browser.mjs <authorization-url>      (normally through the `browser` wrapper, as $BROWSER)
//
// It opens the URL, signs in on oidc-provider's development login page, approves (or denies) the
// consent page, and finishes once it has been redirected to the loopback callback and the callback
// page has loaded (its text goes to stderr). See README.md beside this file.
//
// Exit codes: 0 done; 1 the flow failed (error page, callback unreachable, unexpected page);
//             2 usage / launch error; 3 overall timeout.
//
// Environment:
//   LATCHKEY_TEST_LOGIN            login name typed on the login page (default ada@acme.example)
//   LATCHKEY_TEST_PASSWORD         password typed (default "secret"; the dev page accepts any)
//   LATCHKEY_TEST_CONSENT          approve (default) | deny (click the page's Cancel link -> error=access_denied)
//   LATCHKEY_TEST_BROWSER_MODE     auto (default) | open-only (load the URL, click nothing, exit 0)
//   LATCHKEY_TEST_BROWSER_TIMEOUT  overall timeout in seconds (default 60)
//   LATCHKEY_TEST_BROWSER_PROFILE  persistent profile dir (cookies survive: a second run skips login)
//   LATCHKEY_TEST_ARTIFACTS        dir for a screenshot + HTML of the page on failure
//   LATCHKEY_TEST_BROWSER_RESULT   file to write a JSON result to ({ok, outcome, ...}, no secrets)
//   LATCHKEY_TEST_BROWSER_LOG      file to append this program's log lines to (besides stderr)
//   LATCHKEY_TEST_CALLBACK         callback URL prefix to wait for (default: the URL's redirect_uri
//                                  without port: any 127.0.0.1 port + that path)
//   LATCHKEY_TEST_CHROMIUM         browser binary (default /usr/bin/chromium)
//   LATCHKEY_TEST_ALLOW_REMOTE=1   let the page load non-loopback resources (blocked by default)
//   LATCHKEY_TEST_AFTER_CALLBACK   JavaScript (an async function body) run in the callback page once
//                                  it loaded; what it returns goes into the result file as `after`
//                                  (e.g. an API call the signed-in console page makes)

import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const started = Date.now();
const env = process.env;
const LOGIN = env.LATCHKEY_TEST_LOGIN || 'ada@acme.example';
const PASSWORD = env.LATCHKEY_TEST_PASSWORD || 'secret';
const CONSENT = (env.LATCHKEY_TEST_CONSENT || 'approve').toLowerCase();
const MODE = (env.LATCHKEY_TEST_BROWSER_MODE || 'auto').toLowerCase();
const TIMEOUT_S = Number(env.LATCHKEY_TEST_BROWSER_TIMEOUT || 60);
const PROFILE = env.LATCHKEY_TEST_BROWSER_PROFILE || '';
const ARTIFACTS = env.LATCHKEY_TEST_ARTIFACTS || '';
const RESULT = env.LATCHKEY_TEST_BROWSER_RESULT || '';
const LOGFILE = env.LATCHKEY_TEST_BROWSER_LOG || '';
const CHROMIUM = env.LATCHKEY_TEST_CHROMIUM || '/usr/bin/chromium';
const ALLOW_REMOTE = env.LATCHKEY_TEST_ALLOW_REMOTE === '1';
const AFTER_CALLBACK = env.LATCHKEY_TEST_AFTER_CALLBACK || '';

// Detach-friendly: the parent may close our stdio at any time; never die of EPIPE.
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
process.on('SIGHUP', () => {});

function log(msg) {
  const line = `[browser +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`;
  try { process.stderr.write(`${line}\n`); } catch { /* parent gone */ }
  if (LOGFILE) {
    try { appendFileSync(LOGFILE, `${new Date().toISOString()} pid=${process.pid} ${line}\n`); } catch { /* ignore */ }
  }
}

// Never print a query string: it may hold a code, state or challenge.
function redact(u) {
  try {
    const url = new URL(u);
    const keys = [...url.searchParams.keys()];
    return `${url.origin}${url.pathname}${keys.length ? `?${keys.map((k) => `${k}=…`).join('&')}` : ''}`;
  } catch {
    return '(unparseable url)';
  }
}

function writeResult(obj) {
  if (!RESULT) return;
  try { writeFileSync(RESULT, `${JSON.stringify({ ...obj, elapsed_ms: Date.now() - started })}\n`); } catch (err) { log(`cannot write result file: ${err.message}`); }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const isLoopback = (u) => {
  try { return LOOPBACK_HOSTS.has(new URL(u).hostname); } catch { return false; }
};

// --- arguments -------------------------------------------------------------------------------
const target = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (!target) {
  log('usage: browser <url>   (the authorization URL to open)');
  process.exit(2);
}
let authUrl;
try {
  authUrl = new URL(target);
} catch {
  log(`not a URL: ${JSON.stringify(target.slice(0, 200))}`);
  process.exit(2);
}
if (!['auto', 'open-only'].includes(MODE)) {
  log(`LATCHKEY_TEST_BROWSER_MODE must be auto or open-only, got ${JSON.stringify(MODE)}`);
  process.exit(2);
}
if (!['approve', 'deny'].includes(CONSENT)) {
  log(`LATCHKEY_TEST_CONSENT must be approve or deny, got ${JSON.stringify(CONSENT)}`);
  process.exit(2);
}
if (!(TIMEOUT_S > 0)) {
  log('LATCHKEY_TEST_BROWSER_TIMEOUT must be a positive number of seconds');
  process.exit(2);
}

// Which URLs count as "the callback": by default the redirect_uri's scheme, host and path on any
// port (RFC 8252 loopback); a fixed-port redirect URI is matched with its port too.
let callbackMatch;
{
  const explicit = env.LATCHKEY_TEST_CALLBACK;
  const ru = explicit || authUrl.searchParams.get('redirect_uri');
  if (ru) {
    const r = new URL(ru);
    callbackMatch = (u) => {
      let x;
      try { x = new URL(u); } catch { return false; }
      if (x.protocol !== r.protocol || x.hostname !== r.hostname || x.pathname !== r.pathname) return false;
      return r.port === '' || x.port === r.port;
    };
  } else {
    // No redirect_uri in the URL (e.g. PAR): any loopback URL on another origin than the issuer's.
    callbackMatch = (u) => isLoopback(u) && new URL(u).origin !== authUrl.origin;
  }
}

// --- the browser -------------------------------------------------------------------------------
let context;
let browser;
let page;
let finished = false;

async function saveArtifacts(tag) {
  if (!ARTIFACTS || !page) return;
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
    const base = join(ARTIFACTS, `browser-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${tag}`);
    await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 5000 });
    writeFileSync(`${base}.html`, await page.content());
    log(`saved ${base}.png and .html`);
  } catch (err) {
    log(`could not save artifacts: ${err.message}`);
  }
}

async function closeAll() {
  const closing = (async () => {
    try { if (context) await context.close(); } catch { /* ignore */ }
    try { if (browser) await browser.close(); } catch { /* ignore */ }
  })();
  await Promise.race([closing, new Promise((r) => { setTimeout(r, 5000).unref(); })]);
}

async function finish(code, outcome, message, extra = {}) {
  if (finished) return;
  finished = true;
  if (code !== 0) {
    log(`FAILED (${outcome}): ${message}`);
    await saveArtifacts(outcome);
  } else {
    log(`done (${outcome}): ${message}`);
  }
  writeResult({ ok: code === 0, outcome, message, ...extra });
  await closeAll();
  process.exit(code);
}

const hardTimer = setTimeout(() => {
  finish(3, 'timeout', `no loopback callback within ${TIMEOUT_S}s (page: ${page ? redact(page.url()) : 'none'})`);
  // If closing hangs, leave anyway.
  setTimeout(() => process.exit(3), 8000).unref();
}, TIMEOUT_S * 1000);
hardTimer.unref?.();

process.on('SIGTERM', () => finish(1, 'killed', 'SIGTERM'));
process.on('SIGINT', () => finish(1, 'killed', 'SIGINT'));

async function launch() {
  const options = {
    executablePath: CHROMIUM,
    headless: true,
    // playwright adds --no-sandbox (as root), --headless, --disable-background-networking, ...
    args: ['--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-gpu'],
    timeout: 30_000,
  };
  if (PROFILE) {
    mkdirSync(PROFILE, { recursive: true });
    context = await chromium.launchPersistentContext(PROFILE, options);
  } else {
    browser = await chromium.launch(options);
    context = await browser.newContext();
  }
  if (!ALLOW_REMOTE) {
    // The dev pages ask for a web font from the internet; keep everything on loopback.
    await context.route((u) => !isLoopback(u.href) && !u.href.startsWith('data:') && !u.href.startsWith('about:'), (route) => route.abort('blockedbyclient'));
  }
  page = context.pages()[0] || await context.newPage();
}

// The callback: wait until the browser navigated to it and its page loaded.
let callbackResponse;
let callbackFailure;

function watchCallback() {
  page.on('response', (resp) => {
    const req = resp.request();
    if (req.isNavigationRequest() && req.frame() === page.mainFrame() && callbackMatch(resp.url())) {
      callbackResponse = resp;
    }
  });
  page.on('requestfailed', (req) => {
    if (req.isNavigationRequest() && callbackMatch(req.url())) {
      callbackFailure = req.failure()?.errorText || 'request failed';
    }
  });
}

async function pageText() {
  try {
    return (await page.locator('body').innerText({ timeout: 3000 })).trim();
  } catch {
    return '';
  }
}

async function isVisible(selector) {
  try {
    return (await page.locator(selector).count()) > 0 && await page.locator(selector).first().isVisible();
  } catch {
    return false; // page navigated while we looked
  }
}

const LOGIN_FORM = 'form:has(input[name="prompt"][value="login"]) input[name="login"]';
const CONSENT_BUTTON = 'form:has(input[name="prompt"][value="consent"]) button[type="submit"]';
const ABORT_LINK = 'a[href$="/abort"]';

async function drive() {
  const done = new Set(); // "<url>|<step>": never act twice on the same page
  for (;;) {
    if (callbackFailure) {
      return finish(1, 'callback-unreachable', `the redirect to the loopback callback failed: ${callbackFailure}`);
    }
    if (callbackResponse) {
      try { await page.waitForLoadState('load', { timeout: 10_000 }); } catch { /* text anyway */ }
      const text = await pageText();
      log(`callback page ${redact(callbackResponse.url())} answered HTTP ${callbackResponse.status()}; its text:\n${text}`);
      let after;
      if (AFTER_CALLBACK) {
        try {
          after = await page.evaluate(`(async () => { ${AFTER_CALLBACK} })()`);
        } catch (err) {
          after = { error: err.message.split('\n')[0] };
        }
        log(`after the callback: ran (its result, which may hold a code, is only in the result file)`);
      }
      return finish(0, 'callback', `redirected to the loopback callback (HTTP ${callbackResponse.status()})`, {
        callback: redact(callbackResponse.url()),
        callback_status: callbackResponse.status(),
        text,
        after,
      });
    }

    const url = page.url();
    const title = await page.title().catch(() => '');
    if (/something went wrong/i.test(title) || /^oops/i.test(title)) {
      const text = await pageText();
      return finish(1, 'provider-error', `the authorization server showed an error page: ${text.replace(/\s+/g, ' ').slice(0, 500)}`, { text });
    }

    if (await isVisible(LOGIN_FORM) && !done.has(`${url}|login`)) {
      done.add(`${url}|login`);
      log(`login page: signing in as ${LOGIN}`);
      await page.fill(LOGIN_FORM, LOGIN);
      await page.fill('form:has(input[name="prompt"][value="login"]) input[name="password"]', PASSWORD);
      await page.click('form:has(input[name="prompt"][value="login"]) button[type="submit"]', { noWaitAfter: true });
    } else if (await isVisible(CONSENT_BUTTON) && !done.has(`${url}|consent`)) {
      done.add(`${url}|consent`);
      if (CONSENT === 'deny') {
        log('consent page: denying (Cancel)');
        await page.click(ABORT_LINK, { noWaitAfter: true });
      } else {
        log('consent page: approving');
        await page.click(CONSENT_BUTTON, { noWaitAfter: true });
      }
    }
    // Let the page move on (a new page, or the redirect to the callback).
    await page.waitForTimeout(100);
  }
}

async function main() {
  log(`opening ${redact(authUrl.href)} (mode ${MODE}, consent ${CONSENT}, profile ${PROFILE || 'fresh'}, timeout ${TIMEOUT_S}s)`);
  try {
    await launch();
  } catch (err) {
    log(`cannot start ${CHROMIUM}: ${err.message}`);
    writeResult({ ok: false, outcome: 'launch-error', message: err.message });
    process.exit(2);
  }
  watchCallback();

  try {
    await page.goto(authUrl.href, { waitUntil: 'domcontentloaded', timeout: TIMEOUT_S * 1000 });
  } catch (err) {
    // A redirect straight to a dead callback lands here too; drive() reports it.
    if (!callbackFailure) {
      return finish(1, 'load-error', `cannot load ${redact(authUrl.href)}: ${err.message.split('\n')[0]}`);
    }
  }

  if (MODE === 'open-only') {
    const text = await pageText();
    return finish(0, 'open-only', `loaded ${redact(page.url())} ("${await page.title().catch(() => '')}"), clicked nothing`, { text });
  }
  return drive();
}

main().catch((err) => finish(1, 'error', err.message.split('\n')[0]));
