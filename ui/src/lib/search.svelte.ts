// The search box's side of federated search: it debounces typing (a keystroke ends the
// run in flight at once, the next starts 200 ms after the last), follows one run's
// 'search-results' events and drops any other run's, orders the apps' groups the way a
// launcher does (the app with the best match first), and moves the keyboard selection.
// Results carry opaque ids only; opening one asks Rust.

import { CommandError, cancelSearch, openSearchResult, search } from './commands';
import type { SearchApp, SearchResult, SearchUpdate } from './contract';

/** Below this many characters (filters aside) the box only filters the cards. */
export const MIN_CHARS = 2;
/** The pause after the last keystroke before the apps are asked. */
export const DEBOUNCE_MS = 200;

/** The words of a query and its `in:` filters, split the way Rust splits them. */
export function parseQuery(query: string): { text: string; only: string[] } {
  const text: string[] = [];
  const only: string[] = [];
  for (const word of query.split(/\s+/).filter(Boolean)) {
    const m = /^in:(.*)$/i.exec(word);
    if (!m) text.push(word);
    else if (m[1]) only.push(m[1].toLowerCase());
  }
  return { text: text.join(' '), only };
}

/** Whether `app` is named by one of the query's filters (its id or name, or their start). */
export function filtered(app: SearchApp, only: string[]): boolean {
  const name = app.name.toLowerCase();
  return only.some((f) => app.id.startsWith(f) || name.startsWith(f));
}

/** The query with the chip for `app` switched: its `in:` filter added, or removed. */
export function toggleFilter(query: string, app: SearchApp): string {
  const words = query.split(/\s+/).filter(Boolean);
  const kept = words.filter((w) => {
    const m = /^in:(.+)$/i.exec(w);
    return !(m && filtered(app, [m[1].toLowerCase()]));
  });
  if (kept.length === words.length) return [`in:${app.id}`, ...words].join(' ') + ' ';
  return kept.join(' ') + (kept.length ? ' ' : '');
}

/** One app's part of the run shown. */
export interface AppRow extends SearchApp {
  state: 'searching' | 'results' | 'failed' | 'stopped';
  results: SearchResult[];
  cached: boolean;
  code: string | null;
  message: string | null;
  /** Arrival order, to keep groups stable when scores tie. */
  order: number;
}

const best = (row: AppRow) => row.results[0]?.score ?? -1;

class SearchStore {
  /** The run on screen (0: none). */
  run = $state(0);
  /** The query the run on screen answers (the box may already hold more). */
  shownQuery = $state('');
  rows = $state<AppRow[]>([]);
  done = $state(false);
  /** The query's words are long enough and some app can search. */
  active = $state(false);
  /** Why nothing could be searched (too short, no app matches the filter). */
  error = $state<string | null>(null);
  openError = $state<string | null>(null);
  /** The selected result's id; null means the first. */
  selected = $state<string | null>(null);

  #query = '';
  #requested = 0;
  #arrivals = 0;
  #early = new Map<number, SearchUpdate[]>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Groups with results first, best match first; then the rows still searching, failed
   *  or empty. */
  get groups(): AppRow[] {
    const answered = this.rows
      .filter((r) => r.state === 'results' && r.results.length > 0)
      .sort((a, b) => best(b) - best(a) || a.order - b.order);
    const rest = this.rows.filter((r) => !answered.includes(r));
    return [...answered, ...rest];
  }

  /** Every result in the order the arrows walk them. */
  get flat(): SearchResult[] {
    return this.groups.flatMap((g) => (g.state === 'results' ? g.results : []));
  }

  /** The selected result, or the first. */
  get current(): SearchResult | null {
    const all = this.flat;
    return all.find((r) => r.id === this.selected) ?? all[0] ?? null;
  }

  /** Called on every change of the box. `apps`: the apps that can search now. */
  input(query: string, apps: SearchApp[]): void {
    this.#query = query;
    clearTimeout(this.#timer);
    const { text } = parseQuery(query);
    const wanted = apps.length > 0 && [...text].length >= MIN_CHARS;
    if (this.run && !this.done) void cancelSearch().catch(() => {});
    if (!wanted) {
      this.reset();
      return;
    }
    this.active = true;
    this.#timer = setTimeout(() => void this.start(false), DEBOUNCE_MS);
  }

  /** Asks the apps again, past the five-minute cache. */
  refresh(): void {
    clearTimeout(this.#timer);
    if (this.active) void this.start(true);
  }

  /** Stops the run in flight and forgets what is shown. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#requested += 1;
    if (this.active || (this.run && !this.done)) void cancelSearch().catch(() => {});
    this.active = false;
    this.run = 0;
    this.shownQuery = '';
    this.rows = [];
    this.done = false;
    this.error = null;
    this.openError = null;
    this.selected = null;
    this.#early.clear();
  }

  /** Ends the run in flight (Escape) and keeps what arrived. */
  stop(): void {
    clearTimeout(this.#timer);
    if (this.run && !this.done) void cancelSearch().catch(() => {});
  }

  async start(refresh: boolean): Promise<void> {
    const mine = ++this.#requested;
    const query = this.#query;
    this.openError = null;
    try {
      const run = await search(query, refresh);
      if (mine !== this.#requested) return;
      this.adopt(run, query);
    } catch (raw) {
      if (mine !== this.#requested) return;
      this.run = 0;
      this.shownQuery = query;
      this.rows = [];
      this.done = true;
      this.error = CommandError.from(raw).message;
    }
  }

  /** Shows `run` (the answer to `query`), with the updates that came before search()
   *  answered. */
  adopt(run: number, query: string): void {
    this.run = run;
    this.shownQuery = query;
    this.rows = [];
    this.done = false;
    this.error = null;
    this.selected = null;
    const early = this.#early.get(run) ?? [];
    for (const id of [...this.#early.keys()]) if (id <= run) this.#early.delete(id);
    for (const update of early) this.apply(update);
  }

  /** A 'search-results' event: applied if it is the run shown, kept if it is newer (its
   *  search() has not answered yet), dropped if it is older. */
  accept(update: SearchUpdate): void {
    if (update.run === this.run) this.apply(update);
    else if (update.run > this.run) {
      const list = this.#early.get(update.run) ?? [];
      list.push(update);
      this.#early.set(update.run, list);
    }
  }

  /** The apps that can search changed (a revoke, the admin's disconnect): their rows go. */
  keepApps(apps: SearchApp[]): void {
    const ids = new Set(apps.map((a) => a.id));
    if (this.rows.some((r) => !ids.has(r.id))) this.rows = this.rows.filter((r) => ids.has(r.id));
  }

  apply(update: SearchUpdate): void {
    switch (update.kind) {
      case 'started':
        this.rows = update.apps.map((app) => ({
          ...app,
          state: 'searching',
          results: [],
          cached: false,
          code: null,
          message: null,
          order: Number.MAX_SAFE_INTEGER,
        }));
        break;
      case 'results':
        this.patch(update.integration, {
          state: 'results',
          results: update.results,
          cached: update.cached,
          order: this.#arrivals++,
        });
        break;
      case 'failed':
        this.patch(update.integration, {
          state: 'failed',
          code: update.code,
          message: update.message,
          order: this.#arrivals++,
        });
        break;
      case 'done':
        this.done = true;
        if (update.cancelled) {
          this.rows = this.rows.map((r) => (r.state === 'searching' ? { ...r, state: 'stopped' } : r));
        }
        break;
    }
  }

  patch(id: string, change: Partial<AppRow>): void {
    this.rows = this.rows.map((r) => (r.id === id ? { ...r, ...change } : r));
  }

  /** Moves the selection by `delta` results, staying inside the list. */
  move(delta: number): void {
    const all = this.flat;
    if (all.length === 0) return;
    const at = Math.max(0, all.findIndex((r) => r.id === this.current?.id));
    this.selected = all[Math.min(all.length - 1, Math.max(0, at + delta))].id;
  }

  /** Opens `id` (or the selected result) in the system browser. */
  async open(id: string | null = this.current?.id ?? null): Promise<void> {
    if (!id) return;
    this.selected = id;
    this.openError = null;
    try {
      await openSearchResult(id);
    } catch (raw) {
      this.openError = CommandError.from(raw).message;
    }
  }
}

export const searchBox = new SearchStore();
