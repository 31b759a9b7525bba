// The only module that talks to the Rust side: one typed wrapper per command of the
// contract (./contract.ts) and the 'menu-state' subscription. Every failure, whatever its
// shape on the wire, comes out as a CommandError, so screens never parse strings.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import {
  FOCUS_SEARCH_EVENT,
  MENU_STATE_EVENT,
  SEARCH_EVENT,
  SHOW_SETTINGS_EVENT,
  WIDGETS_EVENT,
  type EnrollArgs,
  type IntegrationView,
  type MenuState,
  type RevokeReport,
  type SearchUpdate,
  type Settings,
  type WidgetCard,
} from './contract';

/** A command's failure. `code` is stable (branch on it); `message` is for the user. */
export class CommandError extends Error {
  readonly code: string;
  readonly needs_reconnect: boolean;

  constructor(code: string, message: string, needs_reconnect = false) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.needs_reconnect = needs_reconnect;
  }

  /** Normalises whatever a rejected invoke carried: the contract's {code, message,
   *  needs_reconnect} object, or a string / Error from Tauri itself (unknown command,
   *  denied permission, no backend at all). */
  static from(raw: unknown): CommandError {
    if (raw instanceof CommandError) return raw;
    if (raw !== null && typeof raw === 'object') {
      const o = raw as Record<string, unknown>;
      if (typeof o.code === 'string' && typeof o.message === 'string') {
        return new CommandError(o.code, o.message, o.needs_reconnect === true);
      }
    }
    if (typeof window !== 'undefined' && !('__TAURI_INTERNALS__' in window)) {
      return new CommandError(
        'no_backend',
        'This page only works inside the Latchkey app. Open Latchkey from your menu bar or system tray.',
      );
    }
    const detail = raw instanceof Error ? raw.message : typeof raw === 'string' ? raw : '';
    return new CommandError(
      'internal',
      `Latchkey could not do that${detail ? ` (${detail})` : ''}. Try again; if it keeps happening, quit and restart Latchkey.`,
    );
  }
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw CommandError.from(raw);
  }
}

/** Cheap: what the app knows now. Called once at start. */
export function menuState(): Promise<MenuState> {
  return call('menu_state');
}

/** Re-fetches from the server. */
export function refresh(): Promise<MenuState> {
  return call('refresh');
}

/** Enrolls with the company account through the system browser (server: null uses a
 *  received link's server). Rejects with code 'connect.cancelled' after cancelEnrollSso. */
export function enrollSso(server: string | null): Promise<MenuState> {
  return call('enroll_sso', { server });
}

export function cancelEnrollSso(): Promise<void> {
  return call('cancel_enroll_sso');
}

/** Enrolls this computer: a latchkey://enroll link, or server + code. */
export function enroll(args: EnrollArgs): Promise<MenuState> {
  return call('enroll', { link: args.link, server: args.server, code: args.code });
}

/** Resolves when the browser sign-in finishes (may take minutes); rejects on cancel or error.
 *  Rejects with code 'connect.approval_limit' (naming the device it would sign out) when the
 *  provider keeps a few sign-ins per person and app and this one would end another device's;
 *  `confirmApprovalLimit` says the user agreed to that. */
export function connect(id: string, confirmApprovalLimit = false): Promise<IntegrationView> {
  return call('connect', { id, confirmApprovalLimit });
}

/** Gives the values a connection asks of the user (checked by the server), then the new state. */
export function setConnectionValues(id: string, values: Record<string, string>): Promise<MenuState> {
  return call('set_connection_values', { id, values });
}

export function cancelConnect(id: string): Promise<void> {
  return call('cancel_connect', { id });
}

/** Copies the waiting sign-in's link to the clipboard (from Rust; the link never comes here). */
export function copySignInLink(id: string): Promise<void> {
  return call('copy_sign_in_link', { id });
}

export function revoke(id: string): Promise<RevokeReport> {
  return call('revoke', { id });
}

/** The way out when the vault salt is gone: a new key, old tokens void, reconnect each. */
export function resetVault(): Promise<MenuState> {
  return call('reset_vault');
}

export function getSettings(): Promise<Settings> {
  return call('get_settings');
}

export function setSettings(settings: Settings): Promise<Settings> {
  return call('set_settings', { settings });
}

/** Opens the admin console in the system browser. */
export function openConsole(): Promise<void> {
  return call('open_console');
}

/** Searches the connected apps (the query may carry `in:app` filters). Resolves to the
 *  run id at once; each app's answer follows as a 'search-results' event. `refresh` asks
 *  the apps again instead of using the five-minute cache. */
export function search(query: string, refresh: boolean): Promise<number> {
  return call('search', { query, refresh });
}

/** Ends the search in flight (its requests are dropped). */
export function cancelSearch(): Promise<void> {
  return call('cancel_search');
}

/** Opens a result in the system browser; Rust maps the opaque id to its page. */
export function openSearchResult(id: string): Promise<void> {
  return call('open_search_result', { id });
}

/** Hides the window (Escape). */
export function hideWindow(): Promise<void> {
  return call('hide_window');
}

/** Downloads the update, checks its signature and installs it (then `restartToUpdate`). */
export function installUpdate(): Promise<MenuState> {
  return call('install_update');
}

/** Restarts into the installed update. */
export function restartToUpdate(): Promise<void> {
  return call('restart_to_update');
}

/** The home screen's widgets (every one the connected apps offer; `shown` says which
 *  are on the home screen). Cheap: the last rows, from this computer. */
export function widgets(): Promise<WidgetCard[]> {
  return call('widgets');
}

/** Refreshes every shown widget now; progress also arrives as 'widgets' events. */
export function refreshWidgets(): Promise<WidgetCard[]> {
  return call('refresh_widgets');
}

/** Shows or hides one widget on the home screen (saved in the settings). */
export function setWidgetShown(key: string, shown: boolean): Promise<WidgetCard[]> {
  return call('set_widget_shown', { key, shown });
}

/** Opens a widget's row in the system browser; Rust maps the opaque id to its page. */
export function openWidgetRow(id: string): Promise<void> {
  return call('open_widget_row', { id });
}

async function subscribe<T>(event: string, handler: (payload: T) => void): Promise<UnlistenFn> {
  try {
    return await listen<T>(event, (e) => handler(e.payload));
  } catch (raw) {
    throw CommandError.from(raw);
  }
}

/** Every search run's progress. */
export function onSearchUpdate(handler: (update: SearchUpdate) => void): Promise<UnlistenFn> {
  return subscribe(SEARCH_EVENT, handler);
}

/** Every widget card, whenever one changes (a refresh started or ended, a choice). */
export function onWidgets(handler: (cards: WidgetCard[]) => void): Promise<UnlistenFn> {
  return subscribe(WIDGETS_EVENT, handler);
}

/** The global shortcut asks for the search box. */
export function onFocusSearch(handler: () => void): Promise<UnlistenFn> {
  return subscribe<null>(FOCUS_SEARCH_EVENT, () => handler());
}

/** The tray menu's "Settings…" asks the window to show its settings screen. */
export async function onShowSettings(handler: () => void): Promise<UnlistenFn> {
  try {
    return await listen<null>(SHOW_SETTINGS_EVENT, () => handler());
  } catch (raw) {
    throw CommandError.from(raw);
  }
}

/** Calls `handler` with every MenuState the Rust side emits. Resolves to the unsubscribe
 *  function once the listener is registered (subscribe before the first menuState()). */
export async function onMenuState(handler: (state: MenuState) => void): Promise<UnlistenFn> {
  try {
    return await listen<MenuState>(MENU_STATE_EVENT, (event) => handler(event.payload));
  } catch (raw) {
    throw CommandError.from(raw);
  }
}
