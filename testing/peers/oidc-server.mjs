#!/usr/bin/env node
// A real OAuth 2.0 / OpenID Connect authorization server for Latchkey's tests,
// built on the certified `oidc-provider` package. See README.md beside this file.
//
// stdout: exactly one JSON line once it listens: {"issuer":"http://127.0.0.1:PORT","port":PORT}
// stderr: everything else (logs, warnings).
// Exits when stdin closes (unless OIDC_IGNORE_STDIN=1), and on SIGTERM / SIGINT.
//
// Environment:
//   PORT                   port on 127.0.0.1 (default 0 = chosen by the OS)
//   OIDC_CONFIG            path of the JSON configuration (default: oidc-config.json beside this file)
//   ACCESS_TOKEN_TTL       access token lifetime in seconds (default 3600)
//   CLOCK_TOLERANCE        seconds of leeway when checking token expiry (default 0; oidc-provider's own is 15)
//   REFRESH_TOKEN_TTL      refresh token lifetime in seconds (default: config ttl.RefreshToken, else 14 days)
//   LATCHKEY_TEST_CONTROLS=1  enables the test-only control endpoints under /__test/
//   OIDC_IGNORE_STDIN=1    do not exit when stdin closes (for running it by hand in the background)
//   OIDC_LOG=1             log every request (method, path, status) to stderr
//   SALESFORCE_SHAPE=1     answer the way Salesforce does: token responses without expires_in,
//                          with instance_url (this server), id, issued_at (ms, a string) and
//                          signature; a REST API under /services/data/v62.0 that answers an
//                          expired or unknown token with 401 [{"errorCode":"INVALID_SESSION_ID"}]
//   SF_ACCOUNTS, SF_PAGE_SIZE  Accounts served by that API (default 5) and records per page (2)
//   OIDC_EXTRA_CLIENTS     JSON array of more clients (e.g. a Latchkey server's SSO client, whose
//                          callback port is only known once that server runs)
//   OIDC_USERS             JSON object: login -> claims ({email, email_verified, name, groups});
//                          a login not listed gets the defaults (email = login, verified, no groups).
//                          Setting it also offers the `groups` scope and claim.
//   APPROVAL_LIMIT=N       as Salesforce's "five approvals per user per app": keep at most N grants
//                          with a refresh token per (account, client); issuing the (N+1)th
//                          (an authorization code exchanged) revokes the oldest grant's tokens.
//                          0 or unset: no limit. Also settable with POST /__test/approvals {"limit": N}.
//   OIDC_FULL_ID_TOKEN=1   put the scopes' claims (email, groups, ...) in the ID token itself, as
//                          Entra ID, Okta and Google do (oidc-provider's default keeps them for userinfo)

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import Provider from 'oidc-provider';

const HERE = dirname(fileURLToPath(import.meta.url));
const log = (...args) => console.error('[oidc-server]', ...args);

function fail(message) {
  console.error(`[oidc-server] error: ${message}`);
  process.exit(2);
}

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

const port = intEnv('PORT', 0);
const accessTokenTTL = intEnv('ACCESS_TOKEN_TTL', 3600);
const clockTolerance = intEnv('CLOCK_TOLERANCE', 0);
const controlsEnabled = process.env.LATCHKEY_TEST_CONTROLS === '1';
const logRequests = process.env.OIDC_LOG === '1';
const configPath = resolve(process.env.OIDC_CONFIG || resolve(HERE, 'oidc-config.json'));
const salesforceShape = process.env.SALESFORCE_SHAPE === '1';
const sfAccounts = intEnv('SF_ACCOUNTS', 5);
const sfPageSize = Math.max(1, intEnv('SF_PAGE_SIZE', 2));
let approvalLimit = intEnv('APPROVAL_LIMIT', 0);

let config;
try {
  config = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (err) {
  fail(`cannot read configuration ${configPath}: ${err.message}`);
}
if (!Array.isArray(config.clients) || config.clients.length === 0) {
  fail(`${configPath} has no "clients"`);
}

const refreshTokenTTL = intEnv('REFRESH_TOKEN_TTL', config.ttl?.RefreshToken ?? 14 * 24 * 3600);

// Latchkey's own per-client settings (x_*) are kept aside; oidc-provider gets the rest.
const rotation = new Map();
let extraClients = [];
if (process.env.OIDC_EXTRA_CLIENTS) {
  try {
    extraClients = JSON.parse(process.env.OIDC_EXTRA_CLIENTS);
  } catch (err) {
    fail(`OIDC_EXTRA_CLIENTS is not JSON: ${err.message}`);
  }
  if (!Array.isArray(extraClients)) fail('OIDC_EXTRA_CLIENTS must be a JSON array of clients');
}
let users = {};
if (process.env.OIDC_USERS) {
  try {
    users = JSON.parse(process.env.OIDC_USERS);
  } catch (err) {
    fail(`OIDC_USERS is not JSON: ${err.message}`);
  }
}
const withGroups = Boolean(process.env.OIDC_USERS);
const fullIdToken = process.env.OIDC_FULL_ID_TOKEN === '1';

const clients = [...config.clients, ...extraClients].map((c) => {
  const out = {};
  for (const [k, v] of Object.entries(c)) {
    if (!k.startsWith('x_')) out[k] = v;
  }
  rotation.set(c.client_id, c.x_rotate_refresh_token !== false);
  return out;
});

// ---------------------------------------------------------------------------
// Test-only controls: request statistics and failure injection.
// ---------------------------------------------------------------------------
function emptyStats() {
  return {
    token: {}, // grant_type -> count (every request that reached /token, injected failures included)
    token_total: 0,
    revocation: 0,
    introspection: 0,
    userinfo: 0,
    authorization: 0,
    injected_failures: {}, // path -> count of requests answered by a /__test/fail rule
    requests: [], // every counted request, in order: {at, method, path, grant_type?, token_type_hint?, status, injected}
    api: { requests: 0, rejected: 0 }, // the Salesforce-shaped REST API (SALESFORCE_SHAPE=1)
  };
}
let stats = emptyStats();
let failRules = []; // {path, method?, status, count, retry_after?, delay_ms?, body?}
let sfForeignNext; // when set (POST /__test/salesforce), nextRecordsUrl points at this origin
// The signed-in user's permissions (POST /__test/salesforce {"permissions": {...}}), as the
// UserPermissionAccess object reports them; without "API Enabled" every REST call is refused.
const sfPermissions = { PermissionsApiEnabled: true, PermissionsCustomizeApplication: true };

function endpointOf(path) {
  switch (path) {
    case '/token': return 'token';
    case '/token/revocation': return 'revocation';
    case '/token/introspection': return 'introspection';
    case '/me': return 'userinfo';
    case '/auth': return 'authorization';
    default: return undefined;
  }
}

async function readRaw(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function json(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = JSON.stringify(body);
}

async function controlRoute(ctx) {
  const route = `${ctx.method} ${ctx.path}`;
  if (route === 'GET /__test/stats') {
    return json(ctx, 200, { ...stats, pending_failures: failRules });
  }
  if (route === 'POST /__test/approvals') {
    let body;
    try {
      body = JSON.parse(await readRaw(ctx.req));
    } catch (err) {
      return json(ctx, 400, { error: `body must be JSON: ${err.message}` });
    }
    if (!(Number.isInteger(body.limit) && body.limit >= 0)) {
      return json(ctx, 400, { error: '"limit" must be an integer >= 0 (0: no limit)' });
    }
    approvalLimit = body.limit;
    return json(ctx, 200, { ok: true, limit: approvalLimit });
  }
  if (route === 'GET /__test/approvals') {
    return json(ctx, 200, { limit: approvalLimit, grants: Object.fromEntries(approvals), evicted: stats.evicted_grants ?? 0 });
  }
  if (route === 'POST /__test/reset') {
    stats = emptyStats();
    failRules = [];
    return json(ctx, 200, { ok: true });
  }
  if (route === 'POST /__test/salesforce') {
    let body;
    try {
      body = JSON.parse(await readRaw(ctx.req));
    } catch (err) {
      return json(ctx, 400, { error: `body must be JSON: ${err.message}` });
    }
    if (body.permissions && typeof body.permissions === 'object') {
      for (const [k, v] of Object.entries(body.permissions)) {
        if (k in sfPermissions) sfPermissions[k] = Boolean(v);
      }
      return json(ctx, 200, { ok: true, permissions: sfPermissions });
    }
    sfForeignNext = typeof body.foreign_next === 'string' ? body.foreign_next : undefined;
    // The org changes, as the widget sync sees it: rename (and touch) or delete Accounts.
    const now = Date.now();
    for (const [from, to] of Object.entries(body.rename ?? {})) {
      const row = sfRows.find((r) => r.name === from && !r.deleted);
      if (row) Object.assign(row, { name: String(to), stamp: now });
    }
    for (const name of body.delete ?? []) {
      const row = sfRows.find((r) => r.name === name && !r.deleted);
      if (row) Object.assign(row, { deleted: true, stamp: now });
    }
    return json(ctx, 200, { ok: true, foreign_next: sfForeignNext ?? null });
  }
  if (route === 'POST /__test/fail') {
    let rule;
    try {
      rule = JSON.parse(await readRaw(ctx.req));
    } catch (err) {
      return json(ctx, 400, { error: `body must be JSON: ${err.message}` });
    }
    const problems = [];
    if (typeof rule.path !== 'string' || !rule.path.startsWith('/')) problems.push('"path" must be a string starting with /');
    if (rule.status !== undefined && !(Number.isInteger(rule.status) && (rule.status === 0 || (rule.status >= 100 && rule.status <= 599)))) problems.push('"status" must be 0 (close the connection) or an HTTP status');
    if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count >= 1)) problems.push('"count" must be an integer >= 1');
    if (rule.delay_ms !== undefined && !(Number.isInteger(rule.delay_ms) && rule.delay_ms >= 0)) problems.push('"delay_ms" must be an integer >= 0');
    if (rule.status === undefined && rule.delay_ms === undefined) problems.push('give "status" and/or "delay_ms"');
    if (problems.length) return json(ctx, 400, { error: problems.join('; ') });
    const stored = {
      path: rule.path,
      method: rule.method ? String(rule.method).toUpperCase() : undefined,
      status: rule.status,
      count: rule.count ?? 1,
      retry_after: rule.retry_after,
      delay_ms: rule.delay_ms,
      body: rule.body,
    };
    failRules.push(stored);
    return json(ctx, 200, { ok: true, rule: stored });
  }
  return json(ctx, 404, { error: `unknown control endpoint ${route}` });
}

function takeRule(method, path) {
  const i = failRules.findIndex((r) => r.path === path && (!r.method || r.method === method));
  if (i === -1) return undefined;
  const rule = failRules[i];
  rule.count -= 1;
  if (rule.count <= 0) failRules.splice(i, 1);
  return rule;
}

async function testControls(ctx, next) {
  if (ctx.path.startsWith('/__test/')) {
    return controlRoute(ctx);
  }

  const endpoint = endpointOf(ctx.path);
  const entry = endpoint ? { at: new Date().toISOString(), method: ctx.method, path: ctx.path } : undefined;

  // Peek at form bodies of the token-family endpoints (grant_type / token_type_hint; tokens are never
  // recorded). oidc-provider reads a pre-read body from req.body, so hand it the raw string.
  if (entry && ctx.method === 'POST' && ctx.path.startsWith('/token') && ctx.is('application/x-www-form-urlencoded')) {
    const raw = await readRaw(ctx.req);
    ctx.req.body = raw;
    const form = new URLSearchParams(raw);
    if (endpoint === 'token') entry.grant_type = form.get('grant_type') ?? '(none)';
    if (form.get('token_type_hint')) entry.token_type_hint = form.get('token_type_hint');
  }

  if (entry) {
    if (endpoint === 'token') {
      const gt = entry.grant_type ?? '(none)';
      stats.token[gt] = (stats.token[gt] ?? 0) + 1;
      stats.token_total += 1;
    } else {
      stats[endpoint] += 1;
    }
    stats.requests.push(entry);
  }

  const rule = takeRule(ctx.method, ctx.path);
  if (rule) {
    if (rule.delay_ms) await sleep(rule.delay_ms);
    if (rule.status !== undefined) {
      stats.injected_failures[ctx.path] = (stats.injected_failures[ctx.path] ?? 0) + 1;
      if (entry) {
        entry.status = rule.status;
        entry.injected = true;
      }
      if (rule.status === 0) {
        // Simulate a network failure: drop the connection without an answer.
        ctx.respond = false;
        ctx.req.socket.destroy();
        return undefined;
      }
      if (rule.retry_after !== undefined) ctx.set('Retry-After', String(rule.retry_after));
      if (typeof rule.body === 'string') {
        ctx.status = rule.status;
        ctx.type = 'text/plain';
        ctx.body = rule.body;
        return undefined;
      }
      if (rule.body !== undefined) return json(ctx, rule.status, rule.body);
      return json(ctx, rule.status, {
        error: rule.status >= 500 ? 'temporarily_unavailable' : 'invalid_request',
        error_description: `injected by /__test/fail (status ${rule.status})`,
      });
    }
  }

  await next();
  if (entry) {
    entry.status = ctx.status;
    entry.injected = false;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The provider.
// ---------------------------------------------------------------------------
// ---------------------------------------------------------------------------
// SALESFORCE_SHAPE=1: Salesforce's token responses and REST API error shapes.
// ---------------------------------------------------------------------------
const ORG_ID = '00D5g000004Xyz1EAC';

/** Token responses as Salesforce sends them: no expires_in (the session timeout is the org's),
 *  and the org's instance_url, the identity URL, issued_at in ms as a string, a signature. */
function salesforceTokens(provider, issuer) {
  return async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.status !== 200) return;
    let body = ctx.body;
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      try {
        body = JSON.parse(body.toString());
      } catch {
        return;
      }
    }
    if (!body || typeof body !== 'object' || !body.access_token) return;
    const shaped = { ...body };
    delete shaped.expires_in;
    const token = await provider.AccessToken.find(body.access_token);
    const userId = `005${Buffer.from(String(token?.accountId ?? 'user')).toString('hex').slice(0, 12)}`;
    shaped.instance_url = issuer;
    shaped.id = `${issuer}/id/${ORG_ID}/${userId}`;
    shaped.issued_at = String(Date.now());
    shaped.signature = randomBytes(32).toString('base64');
    ctx.body = shaped;
  };
}

// ---------------------------------------------------------------------------
// APPROVAL_LIMIT: Salesforce's "five approvals per user per app". Every authorization code
// exchanged for a refresh token is a new approval (grant); past the limit the oldest grant of
// that account and client is revoked, silently, as Salesforce does: its holder learns of it
// only when its refresh is refused with invalid_grant.
// ---------------------------------------------------------------------------
const approvals = new Map(); // "account client" -> grant ids, oldest first

function approvalLimiter(provider) {
  return async (ctx, next) => {
    await next();
    if (!approvalLimit || ctx.path !== '/token' || ctx.status !== 200) return;
    let body = ctx.body;
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      try {
        body = JSON.parse(body.toString());
      } catch {
        return;
      }
    }
    if (!body || typeof body !== 'object' || !body.refresh_token) return;
    const refresh = await provider.RefreshToken.find(body.refresh_token);
    if (!refresh || refresh.gty !== 'authorization_code') return; // a refresh, not a new approval
    const key = `${refresh.accountId} ${refresh.clientId}`;
    const grants = approvals.get(key) ?? [];
    if (grants.includes(refresh.grantId)) return;
    grants.push(refresh.grantId);
    while (grants.length > approvalLimit) {
      const oldest = grants.shift();
      await provider.RefreshToken.revokeByGrantId(oldest);
      await provider.AccessToken.revokeByGrantId(oldest);
      const grant = await provider.Grant.find(oldest);
      if (grant) await grant.destroy();
      stats.evicted_grants = (stats.evicted_grants ?? 0) + 1;
      log(`approval limit ${approvalLimit}: revoked the oldest grant of ${refresh.clientId}`);
    }
    approvals.set(key, grants);
  };
}

function sfError(ctx, status, errorCode, message) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify([{ message, errorCode }]);
}

/** The org's Accounts as a sync sees them: each with its SystemModstamp, deletions kept
 *  (IsDeleted) the way queryAll shows the recycle bin. */
const sfRows = Array.from({ length: sfAccounts }, (_, i) => ({
  id: `001${String(i + 1).padStart(15, '0')}`,
  name: `Acme ${i + 1}`,
  stamp: Date.UTC(2025, 4, 1) - i * 86400000,
  deleted: false,
}));

function sfRowRecord(row, withDeleted) {
  const record = {
    attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${row.id}` },
    Id: row.id, Name: row.name, Industry: 'Manufacturing',
    SystemModstamp: new Date(row.stamp).toISOString().replace('Z', '+0000'),
  };
  if (withDeleted) record.IsDeleted = row.deleted;
  return record;
}

/** SOQL over SystemModstamp: `query` newest first (LIMIT n), `queryAll … WHERE
 *  SystemModstamp > T` oldest first with deletions, paged by SF_PAGE_SIZE. */
function sfSyncPage(since, offset) {
  const rows = sfRows.filter((r) => r.stamp > since).sort((a, b) => a.stamp - b.stamp || a.id.localeCompare(b.id));
  const page = rows.slice(offset, offset + sfPageSize);
  stats.api.rows = (stats.api.rows ?? 0) + page.length;
  const next = offset + sfPageSize;
  const done = next >= rows.length;
  const body = { totalSize: rows.length, done, records: page.map((r) => sfRowRecord(r, true)) };
  if (!done) body.nextRecordsUrl = `/services/data/v62.0/queryAll/01gRO0000016PIAYA3-${since}-${next}`;
  return body;
}

function sfAccountsPage(offset) {
  const records = [];
  for (let i = offset; i < Math.min(offset + sfPageSize, sfAccounts); i += 1) {
    const id = `001${String(i + 1).padStart(15, '0')}`;
    records.push({
      attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${id}` },
      Id: id,
      Name: `Acme ${i + 1}`,
    });
  }
  const next = offset + sfPageSize;
  const done = next >= sfAccounts;
  const page = { totalSize: sfAccounts, done, records };
  if (!done) {
    const path = `/services/data/v62.0/query/01gRO0000016PIAYA2-${next}`;
    page.nextRecordsUrl = sfForeignNext ? `${sfForeignNext}${path}` : path;
  }
  return page;
}

/** SOSL as Salesforce answers it: `FIND {term*} IN NAME FIELDS RETURNING …` over the
 *  org's Accounts (Acme 1…N) and one Contact; reserved characters must come escaped with
 *  `\`; a one-character term is refused the way Salesforce refuses it. */
function sfSearch(ctx, q, json200) {
  stats.api.searches = (stats.api.searches ?? 0) + 1;
  const m = /^FIND\s+\{((?:\\.|[^}\\])*)\}\s+IN\s+NAME\s+FIELDS\s+RETURNING\s+/i.exec(q);
  if (!m) return sfError(ctx, 400, 'MALFORMED_SEARCH', 'No search term found. The search term must be enclosed in braces.');
  const raw = m[1];
  if (/(^|[^\\])[?&|!{}[\]()^~:"'+-]/.test(raw.replace(/\*$/, ''))) {
    return sfError(ctx, 400, 'MALFORMED_SEARCH', 'reserved characters must be escaped');
  }
  const term = raw.replace(/\*$/, '').replace(/\\(.)/g, '$1').toLowerCase();
  if (term.length < 2) return sfError(ctx, 400, 'INVALID_SEARCH', 'search term must be longer than one character');
  const records = [];
  const day = 86400000;
  for (let i = 0; i < sfAccounts; i += 1) {
    const name = `Acme ${i + 1}`;
    if (!name.toLowerCase().split(/\s+/).some((w) => w.startsWith(term)) && !name.toLowerCase().startsWith(term)) continue;
    const id = `001${String(i + 1).padStart(15, '0')}`;
    records.push({
      attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${id}` },
      Id: id, Name: name, Industry: 'Manufacturing',
      LastModifiedDate: new Date(Date.UTC(2025, 4, 1) - i * day).toISOString().replace('Z', '+0000'),
    });
  }
  if ('ada lovelace'.split(' ').some((w) => w.startsWith(term))) {
    records.push({
      attributes: { type: 'Contact', url: '/services/data/v62.0/sobjects/Contact/003000000000000001' },
      Id: '003000000000000001', Name: 'Ada Lovelace', Email: 'ada@acme.example',
      LastModifiedDate: '2025-04-15T09:30:00.000+0000',
    });
  }
  return json200({ searchRecords: records });
}

/** The REST API: /services/data/v62.0/query?q=… (Accounts, paged with nextRecordsUrl),
 *  /services/data/v62.0/query/<locator>-<offset>, and /services/data/v62.0/limits. */
const salesforceApi = (provider) => async (ctx, next) => {
  if (!ctx.path.startsWith('/services/data/')) return next();
  stats.api.requests += 1;
  const auth = ctx.get('authorization');
  const value = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  const token = value ? await provider.AccessToken.find(value) : undefined;
  if (!token || token.isExpired) {
    stats.api.rejected += 1;
    return sfError(ctx, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
  }
  const json200 = (body) => {
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(body);
  };
  // A user without "API Enabled" is refused on every REST call, as Salesforce does.
  if (!sfPermissions.PermissionsApiEnabled) {
    return sfError(ctx, 403, 'API_CURRENTLY_DISABLED', 'API is disabled for this User');
  }
  const rest = ctx.path.slice('/services/data/v62.0'.length);
  if (ctx.method === 'GET' && (rest === '/query' || rest === '/queryAll')) {
    const q = String(ctx.query.q ?? '');
    if (!/^select\s+/i.test(q)) return sfError(ctx, 400, 'MALFORMED_QUERY', 'unexpected token: the query must start with SELECT');
    // UserPermissionAccess: the current user's permissions, one record, only the fields asked.
    const perm = /^SELECT\s+(.+?)\s+FROM\s+UserPermissionAccess\s*$/i.exec(q);
    if (perm) {
      const fields = perm[1].split(',').map((f) => f.trim());
      const unknown = fields.find((f) => !(f in sfPermissions));
      if (unknown) return sfError(ctx, 400, 'INVALID_FIELD', `No such column '${unknown}' on entity 'UserPermissionAccess'.`);
      stats.api.permission_queries = (stats.api.permission_queries ?? 0) + 1;
      const record = { attributes: { type: 'UserPermissionAccess', url: '/services/data/v62.0/sobjects/UserPermissionAccess/000000000000000AAA' } };
      for (const f of fields) record[f] = sfPermissions[f];
      return json200({ totalSize: 1, done: true, records: [record] });
    }
    if (/SystemModstamp/.test(q)) {
      const since = /WHERE\s+SystemModstamp\s*>\s*(\S+)/i.exec(q);
      if (since) {
        const at = Date.parse(since[1]);
        if (Number.isNaN(at)) return sfError(ctx, 400, 'MALFORMED_QUERY', `value of filter criterion for field 'SystemModstamp' must be of type dateTime: ${since[1]}`);
        return json200(sfSyncPage(at, 0));
      }
      const limit = Number((/LIMIT\s+(\d+)/i.exec(q) ?? [])[1] ?? 2000);
      const rows = sfRows.filter((r) => !r.deleted).sort((a, b) => b.stamp - a.stamp || b.id.localeCompare(a.id)).slice(0, limit);
      stats.api.rows = (stats.api.rows ?? 0) + rows.length;
      return json200({ totalSize: rows.length, done: true, records: rows.map((r) => sfRowRecord(r, false)) });
    }
    return json200(sfAccountsPage(0));
  }
  const syncMore = /^\/queryAll\/[A-Za-z0-9]+-(\d+)-(\d+)$/.exec(rest);
  if (ctx.method === 'GET' && syncMore) return json200(sfSyncPage(Number(syncMore[1]), Number(syncMore[2])));
  if (ctx.method === 'GET' && rest === '/search') return sfSearch(ctx, String(ctx.query.q ?? ''), json200);
  const more = /^\/query\/[A-Za-z0-9]+-(\d+)$/.exec(rest);
  if (ctx.method === 'GET' && more) return json200(sfAccountsPage(Number(more[1])));
  if (ctx.method === 'GET' && rest === '/limits') return json200({ DailyApiRequests: { Max: 15000, Remaining: 14998 } });
  if (ctx.method === 'POST' && rest === '/sobjects/Account') {
    let body;
    try {
      body = JSON.parse(await readRaw(ctx.req));
    } catch {
      return sfError(ctx, 400, 'JSON_PARSER_ERROR', 'The request body is not JSON');
    }
    if (!body.Name) return sfError(ctx, 400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [Name]');
    ctx.status = 201;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({ id: '001000000000000099', success: true, errors: [] });
    return undefined;
  }
  return sfError(ctx, 404, 'NOT_FOUND', 'The requested resource does not exist');
};

function signingKeys() {
  // RS256 is the default id_token_signed_response_alg of clients, so the key must be RSA.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, use: 'sig', alg: 'RS256', kid: randomBytes(8).toString('hex') }] };
}

function ownTokenOnly(_ctx, client, token) {
  return token.clientId === client.clientId;
}

async function main() {
  const server = createServer();
  server.keepAliveTimeout = 1000;
  await new Promise((ok, ko) => {
    server.once('error', ko);
    server.listen(port, '127.0.0.1', ok);
  });
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  const provider = new Provider(issuer, {
    clients,
    scopes: [...(config.scopes ?? ['openid', 'offline_access', 'profile', 'email', 'api']), ...(withGroups ? ['groups'] : [])],
    claims: {
      ...(config.claims ?? { openid: ['sub'], email: ['email', 'email_verified'] }),
      ...(withGroups ? { groups: ['groups'] } : {}),
    },
    conformIdTokenClaims: !fullIdToken,
    jwks: signingKeys(),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true }, // oidc-provider 9 supports S256 only
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true, allowedPolicy: ownTokenOnly },
      introspection: { enabled: true, allowedPolicy: ownTokenOnly },
      userinfo: { enabled: true },
      // RFC 9207 `iss` in the authorization response is always on in oidc-provider 9.
    },
    // Refresh tokens for every client that may use the refresh_token grant, with or without
    // offline_access (which oidc-provider silently drops unless prompt=consent is also sent).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: (ctx) => rotation.get(ctx.oidc.entities.Client.clientId) ?? true,
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        email: id,
        email_verified: true,
        name: id.split('@')[0],
        preferred_username: id,
        groups: [],
        ...(users[id] ?? {}),
      }),
    }),
    ttl: {
      AccessToken: () => accessTokenTTL,
      AuthorizationCode: config.ttl?.AuthorizationCode ?? 60,
      RefreshToken: () => refreshTokenTTL,
      Grant: config.ttl?.Grant ?? 14 * 24 * 3600,
      Session: config.ttl?.Session ?? 14 * 24 * 3600,
      Interaction: config.ttl?.Interaction ?? 3600,
      IdToken: config.ttl?.IdToken ?? 3600,
    },
    // oidc-provider's default of 15 s would keep an expired access token working for 15 more
    // seconds, which defeats short ACCESS_TOKEN_TTL refresh tests.
    clockTolerance,
    clientBasedCORS: () => false,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!DOCTYPE html><html><head><title>oops! something went wrong</title></head><body><h1>oops! something went wrong</h1>${Object.entries(out).map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(v)}</pre>`).join('')}</body></html>`;
    },
  });

  if (logRequests) {
    provider.use(async (ctx, next) => {
      await next();
      log(`${ctx.method} ${ctx.path} -> ${ctx.status}`);
    });
  }
  if (controlsEnabled) provider.use(testControls);
  provider.use(approvalLimiter(provider));
  if (salesforceShape) {
    provider.use(salesforceTokens(provider, issuer));
    provider.use(salesforceApi(provider));
  }
  for (const ev of ['server_error', 'grant.error', 'refresh_token.error']) {
    provider.on(ev, (_ctx, err) => log(`${ev}: ${err?.message ?? err}`));
  }

  server.on('request', provider.callback());

  let closing = false;
  const shutdown = (why) => {
    if (closing) return;
    closing = true;
    log(`stopping (${why})`);
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (process.env.OIDC_IGNORE_STDIN !== '1') {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('close', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }

  log(`listening: issuer ${issuer}, config ${configPath}, access token TTL ${accessTokenTTL}s, test controls ${controlsEnabled ? 'ON' : 'off'}`);
  process.stdout.write(`${JSON.stringify({ issuer, port: actualPort })}\n`);
}

main().catch((err) => fail(err.stack || err.message));
