// What each card is doing right now on this side (a connect we are waiting on, an open
// revoke confirmation, the last revoke report...). Kept by integration id outside the card
// components, so it survives a card being filtered out by search and back, and state
// updates from Rust that rebuild the list.

import type { RevokeReport } from './contract';

export interface CardUi {
  /** Our connect() call is pending (it resolves when the browser sign-in finishes). */
  connecting: boolean;
  /** The user pressed Cancel: the pending connect's rejection is expected, not an error. */
  cancelling: boolean;
  /** The in-card "Revoke <name>?" confirmation is open. */
  confirming: boolean;
  revoking: boolean;
  /** The last revoke's steps, shown until dismissed. */
  report: RevokeReport | null;
  /** The last action's failure, when the card's status from Rust does not already say it. */
  error: string | null;
  /** Connecting would sign out another of the user's devices (the provider's approval
   *  limit): what Rust said, naming it; the card asks "Connect anyway?". */
  approval: string | null;
}

const IDLE: CardUi = {
  connecting: false,
  cancelling: false,
  confirming: false,
  revoking: false,
  report: null,
  error: null,
  approval: null,
};

class CardStore {
  #byId: Record<string, CardUi> = $state({});

  get(id: string): CardUi {
    return this.#byId[id] ?? IDLE;
  }

  set(id: string, patch: Partial<CardUi>): void {
    this.#byId[id] = { ...this.get(id), ...patch };
  }

  /** Closes every open revoke confirmation and connect question; says whether one was
   *  open (for Escape). */
  closeConfirms(): boolean {
    let closed = false;
    for (const [id, ui] of Object.entries(this.#byId)) {
      if (ui.confirming || ui.approval) {
        this.set(id, { confirming: false, approval: null });
        closed = true;
      }
    }
    return closed;
  }
}

export const cards = new CardStore();
