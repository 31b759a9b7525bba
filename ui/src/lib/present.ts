// How the contract's values read on screen: status lines, times, icon tiles, search.
// Pure functions, so the wording lives in one place.

import type { IntegrationView, RevokeStep, Status } from './contract';

/** "14:32" today, "12 Mar" this year, "12 Mar 2024" before. */
export function shortTime(unixSeconds: number, now: Date = new Date()): string {
  const d = new Date(unixSeconds * 1000);
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  }
  const sameYear = d.getFullYear() === now.getFullYear();
  return d.toLocaleDateString(undefined, {
    day: 'numeric',
    month: 'short',
    ...(sameYear ? {} : { year: 'numeric' }),
  });
}

/** The full local date and time, for a tooltip. */
export function fullTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString(undefined, {
    dateStyle: 'full',
    timeStyle: 'short',
  });
}

export function isoTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}

/** The status line without the time (the card renders `since` itself in a <time>). */
export function statusLine(s: Status): string {
  switch (s.state) {
    case 'not_connected':
      return 'Not connected';
    case 'connecting':
      return s.browser_failed
        ? 'Your browser did not open — copy the sign-in link and open it in a browser on this computer'
        : 'Connecting… finish signing in in your browser';
    case 'connected': {
      const at = s.instance_host ? ` at ${s.instance_host}` : '';
      return s.identity ? `Connected as ${s.identity}${at} since` : `Connected${at} since`;
    }
    case 'needs_reconnect':
      // Signed out by the provider's approval limit: the reason says it all.
      if (s.code === 'connect.approval_limit_signed_out') return s.reason;
      return s.reason ? `Needs reconnect — ${s.reason}` : 'Needs reconnect';
    case 'connected_by_admin':
      return 'Connected by your admin';
    case 'needs_values':
      return s.ask.length === 1 ? `Needs ${s.ask[0].description} to connect` : 'Needs a few values to connect';
    case 'disconnected_by_admin':
      return s.reason;
    case 'error':
      return `Error — ${s.message}`;
  }
}

/** The same line in one string, for screen readers and tests. */
export function statusText(s: Status): string {
  return s.state === 'connected' ? `${statusLine(s)} ${shortTime(s.since)}` : statusLine(s);
}

const KNOWN_ICONS = new Set([
  'salesforce',
  'google',
  'microsoft',
  'slack',
  'github',
  'atlassian',
  'demo',
  'hubspot',
  'zendesk',
  'pagerduty',
  'notion',
  'stripe',
  'okta',
  'dropbox',
  'box',
  'zoom',
]);
const PALETTE = 8;

/** The CSS class colouring an integration's tile: a known catalog icon has its own
 *  colour, anything else gets a stable colour from a small palette. */
export function tileClass(icon: string): string {
  const name = icon.toLowerCase();
  if (KNOWN_ICONS.has(name)) return `tile-${name}`;
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `tile-p${h % PALETTE}`;
}

/** One or two letters: the initials of the name's first two words ("Google Workspace" is "GW"). */
export function monogram(name: string): string {
  const words = name
    .split(/[\s\-_/.]+/)
    .map((w) => w.replace(/[^\p{L}\p{N}]/gu, ''))
    .filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]][0].toUpperCase();
  // "Microsoft 365" is "M", not "M3": only a second word starting with a letter counts.
  const second = words.length > 1 && /^\p{L}/u.test(words[1]) ? [...words[1]][0].toUpperCase() : '';
  return first + second;
}

/** Search by name, id or environment (its key and its badge text), case-insensitive. */
export function matches(i: IntegrationView, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [i.name, i.id, i.environment, i.environment_label].some((f) =>
    f.toLowerCase().includes(q),
  );
}

export function outcomeLabel(o: RevokeStep['outcome']): string {
  switch (o) {
    case 'done':
      return 'Done';
    case 'queued':
      return 'Queued';
    case 'skipped':
      return 'Skipped';
    case 'failed':
      return 'Failed';
  }
}

/** "just now", "4 min ago", "2 h ago", then the short date: when a widget was fetched. */
export function ago(unixSeconds: number, now: Date = new Date()): string {
  const seconds = Math.floor(now.getTime() / 1000) - unixSeconds;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return shortTime(unixSeconds, now);
}
