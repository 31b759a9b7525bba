// The admin API client: the session cookie is HttpOnly (the browser sends it);
// writes carry the CSRF token the sign-in returned, kept in sessionStorage so a
// reload in the same tab keeps working. Errors are the server's {code, message}.

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

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
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
  if (r.status === 204) return undefined as T;
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
  return data as T;
}

/** Which form field a server error code belongs to (else: the form as a whole). */
export function fieldOf(code: string): string {
  const map: Record<string, string> = {
    invalid_client_id: 'client_id',
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

export type CatalogEntry = {
  id: string;
  name: string;
  auth: 'oauth2' | 'api_key';
  development: boolean;
  docs_url: string | null;
  environments: string[];
  custom_host_example: string | null;
  required_params: Record<string, string[]>;
  placeholders: { name: string; description: string; example: string; custom_host: boolean }[];
  oauth2?: {
    default_scopes: string[];
    client_secret_required: boolean;
    callback_url: string;
    /** The same callback naming localhost, where the provider allows it (Salesforce). */
    callback_url_localhost: string | null;
    callback_port_fixed: boolean;
  };
  /** Present when the menu and `latchkey search` can search this provider. */
  search?: { scopes: string[]; label: string | null; widgets: string[] };
  api_key?: {
    header: string;
    format: string;
    base_url: string;
    allowed_path_prefixes: string[];
    test_path: string;
  };
};

export type Configured = {
  id: string;
  kind: 'oauth' | 'api_key';
  enabled: boolean;
  environment: string;
  client_id: string | null;
  client_secret: 'set' | 'not set';
  scopes: string[];
  params: Record<string, string>;
  allowed_users: string[] | null;
  /** SCIM group ids whose members may use it, beside allowed_users. */
  allowed_groups?: string[] | null;
  api_key: 'set' | 'not set';
  api_base_url: string | null;
  api_paths: string[];
  api_key_header: string | null;
  redirect_host: '127.0.0.1' | 'localhost';
  updated_at: number;
  /** Home-screen widgets offered by default; null: all the catalog offers. */
  default_widgets?: string[] | null;
};

/** A SCIM group the identity provider pushed (GET /v1/admin/groups). */
export type Group = {
  id: string;
  display_name: string;
  member_count: number;
};

export type User = {
  id: string;
  email: string;
  display_name: string;
  created_at: number;
  /** `false` once the identity provider deactivated them (SCIM). */
  active?: boolean;
  external_id?: string | null;
  /** `scim` when the identity provider created them. */
  provisioned_by?: string | null;
};
export type Device = {
  id: string;
  user_id: string;
  name: string;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
  /** The update channel its app is offered releases from. */
  update_channel: string;
  /** What its app reported on its last update check (null: never checked). */
  app_version: string | null;
  app_target: string | null;
  app_arch: string | null;
  app_version_seen_at: number | null;
};
/** A signed desktop-app release (never its bytes). */
export type Release = {
  id: string;
  version: string;
  target: string;
  arch: string;
  channel: string;
  notes: string;
  signature: string;
  size: number;
  sha256: string;
  created_at: number;
  withdrawn_at: number | null;
};

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
export type Connection = {
  integration_id: string;
  kind: string;
  connected: boolean;
  environment: string;
  device_name?: string | null;
  connected_at: number;
};
/** An admin's order to one device (the kill switch), with the device's receipt once in. */
export type Revocation = {
  id: string;
  integration_id: string;
  environment: string;
  reason: string;
  device_id: string;
  device_name: string | null;
  ordered_at: number;
  receipt: { at: number; provider: string; detail: string; local_wiped: boolean } | null;
};
export type AuditEvent = {
  id: number;
  at: number;
  actor_kind: string;
  actor_id: string | null;
  action: string;
  target: string | null;
  detail: any;
};
