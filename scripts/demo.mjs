// The product on one machine, for `make run` (which builds the binaries and runs this inside
// scripts/with-keychain.sh, so there is always a real Secret Service keychain):
//
//   1. a local demo OAuth provider (testing/peers/oidc-server.mjs, the oidc-provider the tests use),
//   2. latchkey-server on its embedded SQLite (.run/demo/server) with a bootstrap admin,
//   3. "Demo OAuth" enabled in the server's catalog against that provider,
//   4. a demo user invited, and the desktop app enrolled as that user (.run/demo/desktop),
//   5. the desktop menu app, until you quit it (tray menu > Quit, or Ctrl-C here).
//
// Each run starts fresh (the demo provider keeps its grants in memory, so yesterday's tokens
// would be dead anyway). Nothing here is used by the product itself.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUN = resolve(ROOT, '.run/demo');
const BIN = resolve(process.env.CARGO_TARGET_DIR ?? resolve(ROOT, 'target'), 'debug');
const ADMIN = 'admin@latchkey.test';
const USER = 'demo@latchkey.test';
const children = [];
let stopping = false;

function fail(message) {
  console.error(`\nmake run: ${message}`);
  shutdown(1);
}

function shutdown(code) {
  stopping = true;
  for (const child of children.reverse()) {
    try {
      child.kill('SIGTERM');
    } catch {}
  }
  process.exit(code);
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

function freePort(preferred) {
  return new Promise((ok) => {
    const probe = createServer();
    probe.once('error', () => {
      const any = createServer();
      any.listen(0, '127.0.0.1', () => {
        const { port } = any.address();
        any.close(() => ok(port));
      });
    });
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => ok(preferred)));
  });
}

function start(name, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  child.on('exit', (code, signal) => {
    if (!stopping) fail(`${name} stopped (${signal ?? `exit ${code}`}); see ${RUN}/*.log`);
  });
  children.push(child);
  return child;
}

function run(command, args, input) {
  const r = spawnSync(command, args, { input, encoding: 'utf8' });
  if (r.status !== 0) fail(`${command} ${args[0]} ${args[1] ?? ''} failed:\n${r.stderr}`);
  return r.stdout.trim();
}

rmSync(RUN, { recursive: true, force: true });
mkdirSync(RUN, { recursive: true });
const log = (name) => openSync(resolve(RUN, `${name}.log`), 'a');

// 1. The demo OAuth provider: prints one JSON line with its issuer once it listens.
const provider = start('the demo OAuth provider', 'node', [resolve(ROOT, 'testing/peers/oidc-server.mjs')], {
  stdio: ['pipe', 'pipe', log('oauth-provider')],
});
const ready = await new Promise((ok) => {
  createInterface({ input: provider.stdout }).once('line', (line) => ok(JSON.parse(line)));
});
const issuer = ready.issuer;

// 2. The server, on SQLite in .run/demo/server.
const port = await freePort(8700);
const origin = `http://127.0.0.1:${port}`;
const serverDir = resolve(RUN, 'server');
const serverArgs = ['--data-dir', serverDir];
// The demo's provider is a development one: this server opts in to offering it.
start('latchkey-server', resolve(BIN, 'latchkey-server'), ['serve', '--listen', `127.0.0.1:${port}`, ...serverArgs], {
  stdio: ['ignore', log('server'), log('server')],
  env: { ...process.env, LATCHKEY_ALLOW_DEVELOPMENT_PROVIDERS: 'true' },
});
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${origin}/readyz`)).ok) break;
  } catch {}
  if (i > 150) fail(`latchkey-server did not start; see ${RUN}/server.log`);
  await sleep(200);
}
const password = randomBytes(12).toString('base64url');
run(resolve(BIN, 'latchkey-server'), ['admin', 'create', '--email', ADMIN, '--password-stdin', ...serverArgs], password);
const token = run(resolve(BIN, 'latchkey-server'), ['admin', 'token', '--email', ADMIN, ...serverArgs]);
writeFileSync(resolve(RUN, 'admin.txt'), `console: ${origin}/console\nemail: ${ADMIN}\npassword: ${password}\n`, {
  mode: 0o600,
});

async function admin(method, path, body) {
  const r = await fetch(`${origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const data = await r.json().catch(() => null);
  if (!r.ok) fail(`${method} ${path}: ${r.status} ${JSON.stringify(data)}`);
  return data;
}

// 3. Demo OAuth, enabled against the local provider (its public native client).
await admin('PUT', '/v1/admin/integrations/demo-oauth', {
  enabled: true,
  environment: 'production',
  client_id: 'latchkey-static',
  params: { issuer },
});

// 4. A demo user, and this computer enrolled as them.
const invite = await admin('POST', '/v1/admin/users', { email: USER, display_name: 'Demo User' });
const desktopDir = resolve(RUN, 'desktop');
run(resolve(BIN, 'latchkey'), ['--data-dir', desktopDir, 'enroll', invite.enrollment.link, '--device-name', 'demo desktop']);

// 5. The desktop app (a virtual display when this machine has none).
const env = { ...process.env, LATCHKEY_DATA_DIR: desktopDir };
if (!env.DISPLAY && !env.WAYLAND_DISPLAY) {
  // -displayfd: Xvfb picks a free display number itself (clearing stale locks) and prints it.
  const xvfb = start('Xvfb', 'Xvfb', ['-displayfd', '1', '-screen', '0', '1280x800x24', '-nolisten', 'tcp', '-noreset'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const number = await new Promise((resolveNumber) => {
    let out = '';
    const timer = setTimeout(() => fail('Xvfb did not start within 10 s (sudo apt-get install xvfb)'), 10000);
    xvfb.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolveNumber(out.trim());
      }
    });
  });
  const display = ':' + number;
  env.DISPLAY = display;
  console.log(`\nThis machine has no display: the app runs on the virtual display ${display} (Xvfb).`);
}

console.log(`
Latchkey is running.

  Admin console   ${origin}/console
                  ${ADMIN} / ${password}     (also in .run/demo/admin.txt)
  Menu app        enrolled as ${USER}; press Connect on "Demo OAuth"
  Demo sign-in    any email and any password on the demo provider's page (${issuer})

Quit from the tray menu (Quit Latchkey) or press Ctrl-C here. Logs: .run/demo/*.log
`);
const app = spawn(resolve(BIN, 'latchkey-desktop'), [], { stdio: 'inherit', env });
children.push(app);
app.on('exit', (code) => {
  stopping = true;
  shutdown(code ?? 0);
});
