/** What `onChange` reports. */
export type AuthState = "signed-in" | "refreshing" | "signed-out" | "expired";

/** What `auth.state` reads: an `AuthState`, or "unknown" before anything was learnt. */
export type AuthStateNow = AuthState | "unknown";

/** The `code` of every `AuthError`. */
export type AuthErrorCode =
  | "invalid_config"
  | "network"
  | "timeout"
  | "refresh_failed"
  | "bad_response"
  | "session_expired"
  | "login_failed"
  | "aborted";

/** Options of `new AuthClient(options)`. Every field is optional. */
export interface AuthClientOptions {
  /** Origins that receive the bearer token. Default: `[location.origin]`. */
  apiOrigins?: string[];
  /** The refresh endpoint, resolved against `location`. Default `"/auth/refresh"`. */
  refreshUrl?: string;
  /** Default `"POST"`. */
  refreshMethod?: "POST" | "GET";
  /** Default `"/auth/login"`. */
  loginUrl?: string;
  /** Default `"/auth/logout"`. */
  logoutUrl?: string;
  /** JSON field holding the access token in login and refresh answers. Default `"access_token"`. */
  tokenField?: string;
  /** The field in login answers only. Default: `tokenField`. `null`: login answers carry no
   *  access token, and the client refreshes right after a successful login. */
  loginTokenField?: string | null;
  /** JSON field with the token's lifetime in seconds. Default `"expires_in"`. */
  expiresInField?: string;
  /** Refresh this long before a known expiry (capped at half the lifetime). Default 30. */
  refreshLeewaySeconds?: number;
  /** Extra headers on refresh and logout calls (not login). Default `{}`. */
  refreshHeaders?: Record<string, string>;
  /** CSRF double-submit: copy the readable `cookie` into `header` on refresh and logout. */
  csrf?: { cookie: string; header: string } | null;
  /** Limit for each network call and for the wait on the cross-tab lock. Default 30000. */
  timeoutMs?: number;
  /** Coordinate refresh and sign-out across tabs. Default true. */
  crossTab?: boolean;
  /** Log each decision (why a refresh starts, which call waits, what the server answered) to
   *  the console with `console.info`; never the token. Default false. */
  debug?: boolean;
}

export { AuthError } from "./auth-error.js";

/** Fetch with silent, single-flight access-token refresh. See the README for the contract. */
export declare class AuthClient {
  /** Validates `options` (throws `AuthError` `invalid_config`) and holds no token yet. */
  constructor(options?: AuthClientOptions);
  /** `fetch`, with the bearer token on requests for `apiOrigins` and one silent refresh and
   *  retry on 401. Works unbound. */
  readonly fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Posts `credentials` as JSON to `loginUrl` and holds the token it answers with. */
  readonly login: (credentials: object) => Promise<void>;
  /** Forgets the token, tells other tabs, and asks the server to end the session. */
  readonly logout: () => Promise<void>;
  /** Refreshes now, or joins the refresh already running. */
  readonly refresh: () => Promise<void>;
  /** Whether a session exists: refreshes once when that is not known yet. Rejects only for
   *  network, timeout and server faults. */
  readonly restore: () => Promise<boolean>;
  /** Calls `listener` on every change of state; returns a function that stops it. */
  readonly onChange: (listener: (state: AuthState) => void) => () => void;
  /** Releases the client: waiting and later calls reject with `AuthError` `aborted`. */
  readonly free: () => void;
  /** Whether a token is held. */
  readonly isAuthenticated: boolean;
  /** When the held token expires (ms since the epoch), if known. */
  readonly expiresAt: number | undefined;
  /** The state `onChange` last reported; "unknown" before anything was learnt. */
  readonly state: AuthStateNow;
}

/** Optional: the core starts while the package is imported. Resolves with nothing, or rejects
 *  with why the core could not be started in this page (a Content-Security-Policy without
 *  'wasm-unsafe-eval', or an engine older than Chrome 114 that compiles no large module
 *  synchronously). `source` is accepted for code written for the versions that loaded a
 *  separate .wasm file, and ignored. */
export default function init(
  source?: string | URL | Request | Response | BufferSource | WebAssembly.Module,
): Promise<void>;
