/** The states `onChange` reports. */
export type AuthState = "signed-in" | "refreshing" | "signed-out" | "expired";

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
}
