// Type-checked with `tsc --noEmit` against the built package: the declarations must accept
// what the contract allows and refuse what it does not.
import init, { AuthClient, AuthError, type AuthClientOptions, type AuthErrorCode, type AuthState, type AuthStateNow } from "authfetch";

// Optional: resolves with nothing once the core runs (it starts at import).
const loaded: void = await init();
// Code written for the versions that loaded a separate .wasm still type-checks.
await init(new URL("/assets/authfetch_bg.wasm", "https://app.example"));

const options: AuthClientOptions = {
  apiOrigins: ["https://api.example.com"],
  refreshUrl: "/auth/refresh",
  refreshMethod: "GET",
  loginUrl: "/auth/login",
  logoutUrl: "/auth/logout",
  tokenField: "access_token",
  loginTokenField: null,
  expiresInField: "expires_in",
  refreshLeewaySeconds: 30,
  refreshHeaders: { "X-Requested-With": "authfetch" },
  csrf: { cookie: "csrf_refresh_token", header: "X-CSRF-TOKEN" },
  timeoutMs: 30000,
  crossTab: true,
  debug: false,
};
const auth = new AuthClient(options);
new AuthClient();

const responses: Response[] = [
  await auth.fetch("/api/me"),
  await auth.fetch("/api/me", { method: "POST", body: "{}", signal: AbortSignal.timeout(1000) }),
  await auth.fetch(new URL("https://api.example.com/items")),
  await auth.fetch(new Request("/api/items")),
];
await auth.login({ username: "demo", password: "demo" });
// Credentials typed by an interface of the app's (no index signature) are accepted.
interface Credentials { username: string; password: string }
const credentials: Credentials = { username: "demo", password: "demo" };
await auth.login(credentials);
await auth.refresh();
const restored: boolean = await auth.restore();
const now: AuthStateNow = auth.state;
const unknown: AuthStateNow = "unknown";
// Every method works unbound, as window.fetch does.
const { fetch: authFetch, login, logout, refresh, restore } = auth;
const fetchLike: typeof globalThis.fetch = authFetch;
await logout();
const authenticated: boolean = auth.isAuthenticated;
const expiresAt: number | undefined = auth.expiresAt;
const off: () => void = auth.onChange((state: AuthState) => {
  const known: "signed-in" | "refreshing" | "signed-out" | "expired" = state;
  void known;
});
off();
auth.free();

try {
  await auth.refresh();
} catch (error) {
  if (error instanceof AuthError) {
    const code: AuthErrorCode = error.code;
    const name: "AuthError" = error.name;
    void [code, name];
  }
}
const own = new AuthError("network", "offline", { cause: new Error("x") });
const base: Error = own;

// @ts-expect-error: only POST and GET
new AuthClient({ refreshMethod: "PUT" });
// @ts-expect-error: a misspelt option is an error, not silently ignored
new AuthClient({ apiOrigin: ["https://api.example.com"] });
// @ts-expect-error: origins are strings
new AuthClient({ apiOrigins: [new URL("https://api.example.com")] });
// @ts-expect-error: codes are a closed set
const unknownCode: AuthErrorCode = "teapot";
// @ts-expect-error: states are a closed set
const unknownState: AuthState = "loading";
// @ts-expect-error: the token never crosses into JavaScript
auth.token;
// @ts-expect-error: expiresAt is read-only
auth.expiresAt = 0;
// @ts-expect-error: state is read-only
auth.state = "signed-in";
// @ts-expect-error: login() takes an object to send as JSON
auth.login("demo:demo");
// @ts-expect-error: debug is on or off
new AuthClient({ debug: "verbose" });
// @ts-expect-error: onChange never reports "unknown"
auth.onChange((state: AuthState) => state === "unknown");

void [responses, authenticated, expiresAt, base, unknownCode, unknownState, loaded, restored, now, unknown, fetchLike, login, refresh, restore];
