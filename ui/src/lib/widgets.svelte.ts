// The home screen's widgets: the cards Rust sends (the 'widgets' event, or widgets() at
// start), the Refresh button, showing or hiding one (from the settings), and opening a
// row, which hands its opaque id back to Rust. A failure to open says why under its
// widget; the other widgets stand.

import {
  CommandError,
  openWidgetRow,
  refreshWidgets,
  setWidgetShown,
  widgets as fetchWidgets,
} from './commands';
import type { WidgetCard } from './contract';

class WidgetStore {
  /** Every widget the connected apps offer (shown or not). */
  cards = $state<WidgetCard[]>([]);
  /** Set once the first answer arrived, so an empty home is not a flash of "none". */
  loaded = $state(false);
  /** The last failure of an action on a widget, by widget key. */
  errors = $state<Record<string, string>>({});
  /** The Refresh button was pressed and has not finished. */
  refreshing = $state(false);

  /** The cards on the home screen. */
  get shown(): WidgetCard[] {
    return this.cards.filter((c) => c.shown);
  }

  accept(cards: WidgetCard[]) {
    this.cards = cards;
    this.loaded = true;
    const keys = new Set(cards.map((c) => c.key));
    for (const key of Object.keys(this.errors)) if (!keys.has(key)) delete this.errors[key];
  }

  async load() {
    try {
      this.accept(await fetchWidgets());
    } catch (raw) {
      console.warn('Latchkey: the widgets could not be read', CommandError.from(raw).message);
    }
  }

  async refresh() {
    this.refreshing = true;
    this.errors = {};
    try {
      this.accept(await refreshWidgets());
    } catch (raw) {
      const message = CommandError.from(raw).message;
      for (const c of this.shown) this.errors[c.key] = message;
    } finally {
      this.refreshing = false;
    }
  }

  async setShown(key: string, shown: boolean): Promise<string | null> {
    try {
      this.accept(await setWidgetShown(key, shown));
      return null;
    } catch (raw) {
      return CommandError.from(raw).message;
    }
  }

  async open(card: WidgetCard, rowId: string) {
    delete this.errors[card.key];
    try {
      await openWidgetRow(rowId);
    } catch (raw) {
      this.errors[card.key] = CommandError.from(raw).message;
    }
  }

  reset() {
    this.cards = [];
    this.errors = {};
  }
}

export const widgetStore = new WidgetStore();
