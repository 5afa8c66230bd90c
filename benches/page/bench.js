// The clients under test, each set up the way its documentation shows. Every client gets its
// access token from the same login, and refreshes through the same cookie endpoint.
import init, { AuthClient } from "/pkg/index.js";
import "./libs.bundle.js";

await init();
const { axios, createAuthRefreshInterceptor, ky } = window.libs;

/**
 * The first access token: signing in (`session` "login"), or, as a tab opened later in the
 * same session does, from the refresh cookie (`session` "refresh").
 */
async function firstToken(session) {
  const response = session === "refresh"
    ? await fetch("/auth/refresh", { method: "POST" })
    : await fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "demo", password: "demo" }),
    });
  return (await response.json()).access_token;
}

/**
 * Each factory returns { get(path) -> Promise<status> } once it holds a token.
 * `options`: `session` ("login" or "refresh"), and for authfetch its `AuthClient` options.
 */
window.clients = {
  // The floor: fetch with the header set by hand, no refresh logic at all.
  async native({ session = "login" } = {}) {
    const token = await firstToken(session);
    return { get: (path) => fetch(path, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status) };
  },
  // Not a client: the platform work authfetch's contract asks of every call, by hand and
  // nothing else (a Request of its own, the header set on it, a signal and a timer for
  // timeoutMs), so the figures show what is left to the driver's own work.
  async steps({ session = "login" } = {}) {
    const header = `Bearer ${await firstToken(session)}`;
    return {
      get(path) {
        const request = new Request(path);
        request.headers.set("authorization", header);
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 30000);
        return fetch(request, { signal: controller.signal, referrer: request.referrer, referrerPolicy: request.referrerPolicy }).then((response) => {
          clearTimeout(timer);
          return response.status;
        });
      },
    };
  },
  async authfetch({ session = "login", ...options } = {}) {
    const auth = new AuthClient(options);
    if (session === "refresh") await auth.refresh();
    else await auth.login({ username: "demo", password: "demo" });
    return { get: (path) => auth.fetch(path).then((r) => r.status), free: () => auth.free() };
  },
  // axios-auth-refresh's README: an interceptor that refreshes on 401 and retries.
  async axios({ session = "login" } = {}) {
    let token = await firstToken(session);
    const instance = axios.create();
    instance.interceptors.request.use((config) => {
      config.headers.Authorization = `Bearer ${token}`;
      return config;
    });
    createAuthRefreshInterceptor(instance, (failedRequest) =>
      axios.post("/auth/refresh", null, { withCredentials: true }).then((response) => {
        token = response.data.access_token;
        failedRequest.response.config.headers.Authorization = `Bearer ${token}`;
      }),
    );
    return { get: (path) => instance.get(path).then((r) => r.status, (e) => e.response?.status ?? 0) };
  },
  // ky's README recipe (ky 2): set the header before each request; on the first 401, refresh
  // and retry with the new token.
  async ky({ session = "login" } = {}) {
    let token = await firstToken(session);
    const api = ky.extend({
      hooks: {
        beforeRequest: [({ request }) => { request.headers.set("Authorization", `Bearer ${token}`); }],
        afterResponse: [
          async ({ request, response, retryCount }) => {
            if (response.status === 401 && retryCount === 0) {
              const refreshed = await ky.post("/auth/refresh", { credentials: "include" }).json();
              token = refreshed.access_token;
              const headers = new Headers(request.headers);
              headers.set("Authorization", `Bearer ${token}`);
              return ky.retry({ request: new Request(request, { headers }), code: "TOKEN_REFRESHED" });
            }
          },
        ],
      },
    });
    return { get: (path) => api.get(path).then((r) => r.status, (e) => e.response?.status ?? 0) };
  },
};
window.ready = true;
