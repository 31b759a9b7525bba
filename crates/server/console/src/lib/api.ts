// The admin API client: the session cookie is HttpOnly (the browser sends it);
// writes carry the CSRF token the sign-in returned, kept in sessionStorage so a
// reload in the same tab keeps working. Errors are the server's {code, message}.

import type { components, operations } from './api-types';

type Responses<K extends keyof operations> = operations[K]['responses'];
type Success<R> = R extends { 200: infer A } ? A : R extends { 201: infer A } ? A : R extends { 204: infer A } ? A : never;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : void;

/** What operation `K` (its operationId in docs/openapi.json) answers on success. */
export type Answer<K extends keyof operations> = JsonOf<Success<Responses<K>>>;

/** The body operation `K` takes: JSON, a file sent as raw bytes, or none. */
export type RequestBody<K extends keyof operations> = operations[K] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : operations[K] extends { requestBody?: { content: { 'application/octet-stream': unknown } } }
    ? Blob
    : never;

export class ApiError extends Error {
  code: string;
  status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const CSRF_KEY = 'latchkey.csrf';
const EXPIRES_KEY = 'latchkey.expires';
const EMAIL_KEY = 'latchkey.email';

let onUnauthorized: (e: ApiError) => void = () => {};

export function setUnauthorizedHandler(f: (e: ApiError) => void): void {
  onUnauthorized = f;
}

export function rememberSession(csrf: string, expiresAt: number, email: string): void {
  sessionStorage.setItem(CSRF_KEY, csrf);
  sessionStorage.setItem(EXPIRES_KEY, String(expiresAt));
  sessionStorage.setItem(EMAIL_KEY, email);
}

export function forgetSession(): void {
  sessionStorage.removeItem(CSRF_KEY);
  sessionStorage.removeItem(EXPIRES_KEY);
  sessionStorage.removeItem(EMAIL_KEY);
}

// After a company sign-in the server hands over the CSRF token in a short-lived cookie
// readable by this page only (Path=/console, SameSite=Strict): never in a URL. It is read
// once, kept like a password sign-in's token, and deleted at once.
const HANDOVER_COOKIE = 'latchkey_sso_handover';

export function takeSsoHandover(): void {
  const pair = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${HANDOVER_COOKIE}=`));
  if (!pair) return;
  document.cookie = `${HANDOVER_COOKIE}=; Path=/console; Max-Age=0; SameSite=Strict`;
  const [csrf, expires, email] = pair.slice(HANDOVER_COOKIE.length + 1).split('|');
  if (csrf && expires && email) rememberSession(csrf, Number(expires), decodeURIComponent(email.replace(/\+/g, ' ')));
}

export function storedSession(): { email: string; expiresAt: number } | null {
  const email = sessionStorage.getItem(EMAIL_KEY);
  const expires = Number(sessionStorage.getItem(EXPIRES_KEY) ?? '0');
  return email ? { email, expiresAt: expires } : null;
}

/**
 * Calls the admin API's operation `K` (named by its operationId, so its request and
 * answer types are the generated ones): `api<'listUsers'>('GET', '/v1/admin/users')`.
 */
export async function api<K extends keyof operations>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: RequestBody<K>,
): Promise<Answer<K>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  // A file (a release artifact) goes as raw bytes; everything else as JSON.
  const raw = body instanceof Blob;
  if (body !== undefined) headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = sessionStorage.getItem(CSRF_KEY) ?? '';
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that it is running, then retry.');
  }
  if (r.status === 204) return undefined as Answer<K>;
  const text = await r.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) {
    const e = new ApiError(
      r.status,
      data?.code ?? 'http_error',
      data?.message ?? `The server answered HTTP ${r.status}.`,
    );
    if (r.status === 401 && !path.endsWith('/login') && !path.endsWith('/setup')) onUnauthorized(e);
    throw e;
  }
  return data as Answer<K>;
}

/** Which form field a server error code belongs to (else: the form as a whole). */
export function fieldOf(code: string): string {
  const map: Record<string, string> = {
    invalid_client_id: 'client_id',
    invalid_display_name: 'display_name',
    invalid_asked_at_connect: 'form',
    connection_name_taken: 'display_name',
    connection_exists: 'environment',
    invalid_integration_id: 'connection_id',
    connection_provider_fixed: 'form',
    invalid_scopes: 'scopes',
    invalid_params: 'params',
    invalid_environment: 'environment',
    unknown_integration: 'environment',
    invalid_secret: 'secret',
    invalid_api_base_url: 'api_base_url',
    invalid_api_paths: 'api_paths',
    invalid_api_key_header: 'api_key_header',
    invalid_redirect_host: 'redirect_host',
    invalid_email: 'email',
    user_exists: 'email',
    admin_exists: 'email',
    invalid_name: 'display_name',
    weak_password: 'password',
    invalid_login: 'password',
    setup_code_invalid: 'code',
    unknown_user: 'allowed_users',
    unknown_group: 'allowed_groups',
    'release.bad_version': 'version',
    'release.bad_target': 'target',
    'release.bad_arch': 'arch',
    'update.bad_channel': 'channel',
    'release.bad_signature': 'signature',
    'release.empty_artifact': 'file',
    'release.too_large': 'file',
    'release.notes_too_long': 'notes',
  };
  return map[code] ?? 'form';
}

export function when(ms: number | null | undefined): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** The API's bodies, generated from the server's protocol types (./api-types.ts). */
export type Schemas = components['schemas'];
export type CatalogEntry = Schemas['CatalogEntry'];
/** A configured integration (GET /v1/admin/integrations). */
export type Configured = Schemas['Integration'];
/** A SCIM group the identity provider pushed (GET /v1/admin/groups). */
export type Group = Schemas['Group'];
export type User = Schemas['UserInfo'];
export type Device = Schemas['DeviceInfo'];
/** A signed desktop-app release (never its bytes). */
export type Release = Schemas['Release'];

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
export type Connection = Schemas['Connection'];
/** An admin's order to one device (the kill switch), with the device's receipt once in. */
export type Revocation = Schemas['Revocation'];
export type AuditEvent = Schemas['AuditEvent'];
