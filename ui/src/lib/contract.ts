// The menu's command contract between the Rust shell (src-tauri) and this UI, as types.
// Copied from the authoritative contract (docs: ui/README.md); change both sides together.
// Everything on the wire is snake_case JSON. All commands are Tauri commands called with
// `invoke(name, args)`; the typed wrappers live in ./commands.ts and nowhere else.

/** How a command fails: never a bare string. `message` is already plain words for the user
 *  ("what happened and what to do"); `code` is stable and is what the UI branches on. */
export interface CommandErrorPayload {
  code: string;
  message: string;
  needs_reconnect: boolean;
}

/** Where one integration stands on this computer. */
export type Status =
  | { state: 'not_connected' }
  /** A browser sign-in is pending (the card shows Cancel). `sign_in_link`: the card may offer
   *  "Copy sign-in link" (the link itself stays in Rust); `browser_failed`: why the system
   *  browser did not open, when it did not. */
  | { state: 'connecting'; sign_in_link?: boolean; browser_failed?: string | null }
  /** `since` is unix seconds; `instance_host` names the org API calls go to (Salesforce). */
  | {
      state: 'connected';
      identity: string | null;
      since: number;
      version: number;
      instance_host?: string | null;
    }
  /** `code` names a known reason the card words itself: 'connect.approval_limit_signed_out'
   *  (the provider signed this device out because the account connected on too many others). */
  | { state: 'needs_reconnect'; reason: string; code?: string }
  /** The admin took the connection away: revoked at the provider and wiped here. Connect
   *  works again once the admin allows it. */
  | { state: 'disconnected_by_admin'; reason: string }
  /** API-key integrations: the admin holds the key, there is nothing to connect. */
  | { state: 'connected_by_admin' }
  /** The admin left values for the user to give before connecting (a login host). */
  | { state: 'needs_values'; ask: AskedValue[] }
  /** The last action on this card failed. */
  | { state: 'error'; code: string; message: string };

export type StatusState = Status['state'];

/** One value a connection asks of the user at connect; not secret. */
export interface AskedValue {
  /** The catalog placeholder's name ('login_host'). */
  name: string;
  /** What it is, from the catalog. */
  description: string;
  example: string | null;
}

export interface IntegrationView {
  /** The connection's id ('salesforce', 'salesforce-uat'): commands take it. */
  id: string;
  /** The catalog provider ('salesforce'); an org may have several connections of one. */
  provider: string;
  /** The admin's name for the connection ('Salesforce — UAT sandbox'), else the catalog's. */
  name: string;
  /** Catalog icon name: salesforce, google, microsoft, slack, github, atlassian, demo, ... */
  icon: string;
  /** 'production' | 'sandbox' | a custom host. */
  environment: string;
  /** Badge text: 'Production' | 'Sandbox' | 'acme.my.salesforce.com'. */
  environment_label: string;
  auth: 'oauth2' | 'api_key';
  status: Status;
}

export interface Problem {
  code: string;
  message: string;
  action: 'enroll' | 'reset_vault' | 'retry';
}

export type Phase = 'onboarding' | 'ready' | 'problem';

export interface EnrollPrefill {
  server: string;
  from_link: true;
}

export interface MenuState {
  phase: Phase;
  account: { email: string; server: string } | null;
  /** Set when the server is unreachable: the list is from this computer's cache, say so. */
  offline: string | null;
  /** Phase 'problem': keychain unavailable, salt gone, device revoked... */
  problem: Problem | null;
  integrations: IntegrationView[];
  /** A latchkey://enroll link arrived (argv, a second launch, the OS). Its one-time code
   *  stays in Rust: enroll() with every field null uses it. */
  enroll_prefill: EnrollPrefill | null;
  /** The connected apps search asks, one `in:` chip each (empty unless phase 'ready'). */
  search_apps: SearchApp[];
  /** A newer, signed Latchkey from the organisation's server. */
  update: UpdateNotice | null;
  /** A company sign-in is waiting for the browser: onboarding shows Cancel. */
  enrolling_sso: boolean;
}

/** 'in_place': the app installs it and restarts; 'package_manager': a .deb/.rpm install,
 *  updated through the package manager (the app never tries). */
export type InstallMode = 'in_place' | 'package_manager';

export type UpdateProgress =
  | { state: 'available' }
  | { state: 'installing' }
  | { state: 'installed' }
  | { state: 'failed'; code: string; message: string };

export interface UpdateNotice {
  version: string;
  /** Plain text from the admin's release; never rendered as HTML. */
  notes: string | null;
  install: InstallMode;
  progress: UpdateProgress;
}

/** A connected app that can search. `id` is also its `in:` filter. */
export interface SearchApp {
  id: string;
  name: string;
  /** Catalog icon name, for its tile. */
  icon: string;
  /** What it finds: 'records', 'messages', 'files'… */
  label: string;
}

/** One result. There is no link and no provider record id: `id` is opaque, and only
 *  open_search_result({id}) turns it into a page in the system browser (in Rust). */
export interface SearchResult {
  id: string;
  integration: string;
  integration_name: string;
  title: string;
  subtitle: string | null;
  /** 'Account', 'Contact', 'pull request', 'message'… */
  kind: string;
  /** Unix seconds, when the app says. */
  updated_at: number | null;
  /** Higher first: exact, prefix and word title matches, then recency. */
  score: number;
}

/** The 'search-results' event's payload: one run's progress, in order. A run id lower than
 *  the one search() last returned belongs to a query the user has typed past. */
export type SearchUpdate =
  | { kind: 'started'; run: number; apps: SearchApp[] }
  | {
      kind: 'results';
      run: number;
      integration: string;
      name: string;
      results: SearchResult[];
      /** From the five-minute cache: no request was made. */
      cached: boolean;
    }
  /** `message` is the row's text: "Jira didn't answer in time", "Slack: reconnect to search". */
  | { kind: 'failed'; run: number; integration: string; name: string; code: string; message: string }
  | { kind: 'done'; run: number; cancelled: boolean };

export interface RevokeStep {
  step: string;
  outcome: 'done' | 'queued' | 'skipped' | 'failed';
  detail: string;
}

/** Other fields may appear; the UI ignores them. */
export interface RevokeReport {
  steps: RevokeStep[];
}

export interface Settings {
  start_at_login: boolean;
  hide_on_blur: boolean;
  /** How long each app may take to answer a search (500–30000). */
  search_deadline_ms: number;
  /** The global shortcut that opens search, e.g. 'CommandOrControl+Shift+Space'. */
  search_shortcut: string;
  /** How often the home screen's widgets refresh, in minutes (1–60). */
  widget_refresh_minutes: number;
  /** The user's choice per widget key ('integration/widget' → shown); others follow the admin. */
  widgets: Record<string, boolean>;
}

/** One row of a widget. `id` is opaque: open_widget_row hands it back to Rust. */
export interface WidgetRow {
  id: string;
  title: string;
  subtitle: string | null;
  /** Unix seconds, when the app says. */
  updated_at: number | null;
}

/** A home-screen widget ('widgets' / the 'widgets' event). No link or record id in it. */
export interface WidgetCard {
  /** 'integration/widget': the settings key. */
  key: string;
  integration: string;
  name: string;
  icon: string;
  /** "Recent Accounts". */
  title: string;
  /** On the home screen (the user's choice, else the admin's default). */
  shown: boolean;
  offered_by_default: boolean;
  /** The newest rows (at most five). */
  rows: WidgetRow[];
  /** How many rows the widget holds in all. */
  total: number;
  /** When the rows were fetched (unix seconds); null: never yet. */
  refreshed_at: number | null;
  refreshing: boolean;
  /** The last refresh failed; the rows are the ones before it. */
  problem: { code: string; message: string } | null;
}

/** Either a full latchkey://enroll?server=..&code=.. link, or server + code. */
export interface EnrollArgs {
  link: string | null;
  server: string | null;
  code: string | null;
}

/** The one event: emitted whenever anything changes (connect started/finished, the admin
 *  enabled/disabled something via the change feed, a refresh failed). Payload: MenuState. */
export const MENU_STATE_EVENT = 'menu-state';
/** Emitted by the tray menu's "Settings…" item. */
export const SHOW_SETTINGS_EVENT = 'show-settings';
/** A search run's progress. Payload: SearchUpdate. */
export const SEARCH_EVENT = 'search-results';
/** The global shortcut showed the window: focus the search box. */
export const FOCUS_SEARCH_EVENT = 'focus-search';
/** Every widget card, whenever one changes. Payload: WidgetCard[]. */
export const WIDGETS_EVENT = 'widgets';
