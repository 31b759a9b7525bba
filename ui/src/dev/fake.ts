// DEV ONLY (`npm run dev` in a plain browser): a fake Rust side behind Tauri's own IPC
// mock, so every screen can be seen and clicked without the app. main.ts imports it only
// when import.meta.env.DEV, so `vite build` never bundles it.
//
// Pick a story with ?scenario=ready|offline|empty|onboarding|prefill|problem-salt|
// problem-enroll|problem-retry|broken (menu_state fails) and the colour scheme with your OS.

import { mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  IntegrationView,
  MenuState,
  RevokeReport,
  SearchApp,
  SearchResult,
  Settings,
  WidgetCard,
} from '../lib/contract';

const scenario = new URLSearchParams(location.search).get('scenario') ?? 'ready';
const now = Math.floor(Date.now() / 1000);
const account = { email: 'ana.lima@acme.example', server: 'https://latchkey.acme.example' };

function integrations(): IntegrationView[] {
  return [
    {
      id: 'salesforce',
      provider: 'salesforce',
      name: 'Salesforce',
      icon: 'salesforce',
      environment: 'production',
      environment_label: 'Production',
      auth: 'oauth2',
      status: { state: 'connected', identity: 'ana.lima@acme.example', since: now - 3 * 86400, version: 3 },
    },
    {
      id: 'salesforce-sandbox',
      provider: 'salesforce',
      name: 'Salesforce — UAT sandbox',
      icon: 'salesforce',
      environment: 'acme--uat.sandbox.my.salesforce.com',
      environment_label: 'acme--uat.sandbox.my.salesforce.com',
      auth: 'oauth2',
      status: {
        state: 'needs_reconnect',
        reason: 'Signed out because this account was connected on five other devices',
        code: 'connect.approval_limit_signed_out',
      },
    },
    {
      id: 'google',
      provider: 'google-workspace',
      name: 'Google Workspace',
      icon: 'google',
      environment: 'production',
      environment_label: 'Production',
      auth: 'oauth2',
      status: { state: 'not_connected' },
    },
    {
      id: 'github',
      provider: 'github',
      name: 'GitHub',
      icon: 'github',
      environment: 'production',
      environment_label: 'Production',
      auth: 'oauth2',
      status: { state: 'connected', identity: null, since: now - 600, version: 1 },
    },
    {
      id: 'pagerduty',
      provider: 'pagerduty',
      name: 'PagerDuty',
      icon: 'pagerduty',
      environment: 'production',
      environment_label: 'Production',
      auth: 'api_key',
      status: { state: 'connected_by_admin' },
    },
    {
      id: 'slack',
      provider: 'slack',
      name: 'Slack',
      icon: 'slack',
      environment: 'sandbox',
      environment_label: 'Sandbox',
      auth: 'oauth2',
      status: { state: 'error', code: 'provider_denied', message: 'Slack said no. Ask your admin to allow Latchkey.' },
    },
    {
      id: 'demo',
      provider: 'demo-oauth',
      name: 'Demo CRM',
      icon: 'demo',
      environment: 'sandbox',
      environment_label: 'Sandbox',
      auth: 'oauth2',
      status: { state: 'not_connected' },
    },
  ];
}

const SEARCH_APPS: SearchApp[] = [
  { id: 'salesforce', name: 'Salesforce', icon: 'salesforce', label: 'records' },
  { id: 'github', name: 'GitHub', icon: 'github', label: 'issues and pull requests' },
];

/** A few made-up records per app for the search box; GitHub is always too slow. */
function fakeResults(app: SearchApp, words: string): SearchResult[] {
  const q = words.toLowerCase();
  const records = [
    ['Acme Corporation', 'Account · Manufacturing'],
    ['Acme renewal 2026', 'Opportunity · Negotiation'],
    ['Ada Lovelace', 'Contact · ada@acme.example'],
  ];
  return records
    .filter(([title]) => title.toLowerCase().split(' ').some((w) => w.startsWith(q)))
    .map(([title, subtitle], i) => ({
      id: `${app.id}-${i}`,
      integration: app.id,
      integration_name: app.name,
      title,
      subtitle,
      kind: subtitle.split(' ')[0],
      updated_at: now - i * 86400 * 9,
      score: 3 - i * 0.1,
    }));
}

let runs = 0;

function fakeSearch(query: string): number {
  const run = ++runs;
  const only = query.split(/\s+/).filter((w) => w.startsWith('in:')).map((w) => w.slice(3));
  const words = query.split(/\s+/).filter((w) => w && !w.startsWith('in:')).join(' ');
  const apps = SEARCH_APPS.filter((a) => !only.length || only.some((f) => a.id.startsWith(f)));
  setTimeout(() => {
    void emit('search-results', { kind: 'started', run, apps });
    for (const app of apps) {
      if (app.id === 'github') {
        setTimeout(() => {
          void emit('search-results', {
            kind: 'failed',
            run,
            integration: app.id,
            name: app.name,
            code: 'search.timed_out',
            message: `${app.name} didn't answer in time`,
          });
          void emit('search-results', { kind: 'done', run, cancelled: false });
        }, 3000);
      } else {
        setTimeout(() => {
          void emit('search-results', {
            kind: 'results',
            run,
            integration: app.id,
            name: app.name,
            results: fakeResults(app, words),
            cached: false,
          });
        }, 400);
      }
    }
  }, 0);
  return run;
}

function initial(): MenuState {
  const base: MenuState = {
    phase: 'ready',
    account,
    offline: null,
    problem: null,
    integrations: integrations(),
    enroll_prefill: null,
    search_apps: SEARCH_APPS,
    update: null,
    enrolling_sso: false,
  };
  switch (scenario) {
    case 'update':
      return {
        ...base,
        update: { version: '0.2.0', notes: 'Faster search.\nOneDrive recent files.', install: 'in_place', progress: { state: 'available' } },
      };
    case 'update-deb':
      return {
        ...base,
        update: { version: '0.2.0', notes: null, install: 'package_manager', progress: { state: 'available' } },
      };
    case 'offline':
      return { ...base, offline: 'The connection to latchkey.acme.example timed out.' };
    case 'empty':
      return { ...base, integrations: [] };
    case 'onboarding':
      return { ...base, phase: 'onboarding', account: null, integrations: [] };
    case 'prefill':
      return {
        ...base,
        phase: 'onboarding',
        account: null,
        integrations: [],
        enroll_prefill: { server: 'https://latchkey.acme.example', from_link: true },
      };
    case 'problem-salt':
      return {
        ...base,
        phase: 'problem',
        integrations: [],
        problem: {
          code: 'vault_salt_missing',
          message: "This computer's vault key is gone from the system keychain, so your saved sign-ins can't be opened.",
          action: 'reset_vault',
        },
      };
    case 'problem-enroll':
      return {
        ...base,
        phase: 'problem',
        integrations: [],
        problem: { code: 'device_revoked', message: 'Your admin removed this computer from Latchkey.', action: 'enroll' },
      };
    case 'problem-retry':
      return {
        ...base,
        phase: 'problem',
        integrations: [],
        problem: { code: 'keychain_locked', message: 'The system keychain is locked. Unlock it, then try again.', action: 'retry' },
      };
    default:
      return base;
  }
}

let state = initial();
let settings: Settings = {
  start_at_login: true,
  hide_on_blur: true,
  search_deadline_ms: 3000,
  search_shortcut: 'CommandOrControl+Shift+Space',
  widget_refresh_minutes: 5,
  widgets: {},
};
const pending = new Map<string, (outcome: 'done' | 'cancelled') => void>();
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fail = (code: string, message: string, needs_reconnect = false) => ({ code, message, needs_reconnect });

function publish() {
  void emit('menu-state', structuredClone(state));
}

function setStatus(id: string, status: IntegrationView['status']): IntegrationView {
  const i = state.integrations.find((x) => x.id === id);
  if (!i) throw fail('unknown_integration', 'That integration is no longer enabled for you.');
  i.status = status;
  return i;
}

async function fakeConnect(id: string, confirmApprovalLimit: boolean): Promise<IntegrationView> {
  // The UAT card shows Salesforce's five approvals per user per app: asked first.
  if (id === 'salesforce-sandbox' && !confirmApprovalLimit) {
    await wait(150);
    throw fail(
      'connect.approval_limit',
      "Connecting Salesforce here signs out Ana's old laptop (connected 2026-03-02): Salesforce keeps five sign-ins per person and app and signs the oldest out. Nothing was started; connect anyway to go ahead, or first revoke Salesforce on a computer you no longer use.",
    );
  }
  // Registered at once, so a quick Cancel is never lost.
  const outcome = new Promise<'done' | 'cancelled'>((resolve) => {
    pending.set(id, resolve);
    setTimeout(() => resolve('done'), 4000);
  });
  await wait(250);
  setStatus(id, { state: 'connecting', sign_in_link: true, browser_failed: null });
  publish();
  const result = await outcome;
  pending.delete(id);
  if (result === 'cancelled') {
    setStatus(id, { state: 'not_connected' });
    publish();
    throw fail('connect_cancelled', 'Sign-in was cancelled.');
  }
  const view = setStatus(id, { state: 'connected', identity: account.email, since: Math.floor(Date.now() / 1000), version: 1 });
  publish();
  return structuredClone(view);
}

/** The home screen's widgets from the connected apps (Salesforce and GitHub). */
function fakeWidgets(): WidgetCard[] {
  const connected = (id: string) =>
    state.phase === 'ready' && state.integrations.some((i) => i.id === id && i.status.state === 'connected');
  const card = (
    integration: string,
    name: string,
    kind: string,
    title: string,
    rows: [string, string | null, number][],
  ): WidgetCard => {
    const key = `${integration}/${kind}`;
    return {
      key,
      integration,
      name,
      icon: integration,
      title,
      shown: settings.widgets[key] ?? true,
      offered_by_default: true,
      rows: rows.slice(0, 5).map(([t, sub, age], n) => ({ id: `${key}-${n}`, title: t, subtitle: sub, updated_at: now - age })),
      total: rows.length,
      refreshed_at: now - 120,
      refreshing: false,
      problem: null,
    };
  };
  const out: WidgetCard[] = [];
  if (connected('salesforce'))
    out.push(
      card('salesforce', 'Salesforce', 'salesforce.recent_accounts', 'Recent Accounts', [
        ['Acme Corporation', 'Manufacturing · San Francisco', 300],
        ['Globex Ltd', 'Energy · London', 4000],
        ['Initech', 'Technology · Austin', 90000],
        ['Umbrella plc', null, 200000],
        ['Stark Industries', 'Aerospace', 400000],
        ['Wayne Enterprises', 'Conglomerate', 900000],
      ]),
    );
  if (connected('github'))
    out.push(
      card('github', 'GitHub', 'github.review_requests', 'Reviews waiting for you', [
        ['Vault: zeroize the derived key on drop', 'acme/latchkey #412', 1800],
        ['Console: widgets picker', 'acme/latchkey #418', 7200],
      ]),
    );
  return out;
}

mockIPC(
  async (cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    if (cmd === 'connect') return fakeConnect(args.id as string, args.confirmApprovalLimit === true);
    await wait(250);
    switch (cmd) {
      case 'menu_state':
        if (scenario === 'broken') throw fail('state_unreadable', "Latchkey couldn't read what it knows about this computer. Restart Latchkey.");
        return structuredClone(state);
      case 'refresh':
        if (state.offline) throw fail('server_unreachable', 'Still no answer from latchkey.acme.example.');
        if (state.phase === 'problem') throw fail('keychain_locked', 'The system keychain is still locked.');
        return structuredClone(state);
      case 'enroll': {
        const code = (args.code as string | null) ?? '';
        if (code.toUpperCase() === 'BAD') throw fail('enrollment_invalid', 'That enrollment code is not valid any more. Ask your admin for a new one.');
        await wait(600);
        state = { ...state, phase: 'ready', problem: null, account, integrations: integrations(), enroll_prefill: null };
        publish();
        return structuredClone(state);
      }
      case 'cancel_connect':
        pending.get(args.id as string)?.('cancelled');
        return null;
      case 'copy_sign_in_link':
        return null;
      case 'revoke': {
        const id = args.id as string;
        await wait(700);
        setStatus(id, { state: 'not_connected' });
        publish();
        const report: RevokeReport = {
          steps: [
            { step: 'Sign out at the provider', outcome: 'done', detail: 'The refresh token was revoked.' },
            { step: 'Delete tokens on this computer', outcome: 'done', detail: '' },
            { step: 'Delete tokens on the server', outcome: id === 'github' ? 'queued' : 'done', detail: id === 'github' ? 'Will retry when the server is reachable.' : '' },
          ],
        };
        return report;
      }
      case 'reset_vault':
        await wait(600);
        state = {
          ...state,
          phase: 'ready',
          problem: null,
          integrations: integrations().map((i) =>
            i.auth === 'oauth2' ? { ...i, status: { state: 'needs_reconnect', reason: 'Latchkey has a new vault key' } } : i,
          ),
        };
        publish();
        return structuredClone(state);
      case 'get_settings':
        return { ...settings };
      case 'set_settings':
        settings = { ...(args.settings as Settings) };
        return { ...settings };
      case 'search':
        return fakeSearch(args.query as string);
      case 'cancel_search':
      case 'hide_window':
        return null;
      case 'open_search_result':
        window.open(`https://example.com/record/${String(args.id)}`, '_blank', 'noopener');
        return null;
      case 'widgets':
      case 'refresh_widgets':
        return fakeWidgets();
      case 'set_widget_shown':
        settings = { ...settings, widgets: { ...settings.widgets, [args.key as string]: args.shown as boolean } };
        return fakeWidgets();
      case 'open_widget_row':
        window.open(`https://example.com/row/${String(args.id)}`, '_blank', 'noopener');
        return null;
      case 'enroll_sso': {
        state = { ...state, enrolling_sso: true };
        publish();
        await wait(2000);
        if (!state.enrolling_sso) throw fail('connect.cancelled', 'Cancelled.');
        state = { ...state, phase: 'ready', problem: null, account, integrations: integrations(), enroll_prefill: null, enrolling_sso: false };
        publish();
        return structuredClone(state);
      }
      case 'cancel_enroll_sso':
        state = { ...state, enrolling_sso: false };
        publish();
        return null;
      case 'install_update':
        if (!state.update) throw fail('menu.no_update', 'There is no update to install.');
        await wait(800);
        state = { ...state, update: { ...state.update, progress: { state: 'installed' } } };
        publish();
        return structuredClone(state);
      case 'restart_to_update':
        state = { ...state, update: null };
        publish();
        return null;
      case 'open_console':
        window.open(`${account.server}/console/`, '_blank', 'noopener');
        return null;
      default:
        throw fail('unknown_command', `The fake has no command ${cmd}.`);
    }
  },
  { shouldMockEvents: true },
);
