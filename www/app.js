// The authfetch demo: plain JavaScript on top of the built package (at /pkg/).
import init, { AuthClient, AuthError } from "/pkg/index.js";

const $ = (id) => document.getElementById(id);
const ui = {
  banner: $("banner"),
  state: $("state"),
  user: $("user"),
  countdown: $("countdown"),
  meter: $("meter-fill"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
  result: $("result"),
  timeline: $("timeline"),
};

await init();
const auth = new AuthClient({ timeoutMs: 10000 });

// ---- the timeline ------------------------------------------------------------------------

const MAX_ENTRIES = 200;

function clock(epochMs) {
  const d = new Date(epochMs);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** Adds an entry at the top. `kind` colours the tag: ok, refresh, bad or info. */
function record(kind, tag, what, at = Date.now()) {
  const item = document.createElement("li");
  item.dataset.at = String(at);
  const time = document.createElement("time");
  time.dateTime = new Date(at).toISOString();
  time.textContent = clock(at);
  const label = document.createElement("span");
  label.className = `tag ${kind}`;
  label.textContent = tag;
  const text = document.createElement("span");
  text.className = "what";
  text.textContent = what;
  item.append(time, label, text);
  // Newest first by when it happened: network entries arrive when they complete, so keep the
  // list ordered rather than trusting arrival order.
  const later = [...ui.timeline.children].find((other) => Number(other.dataset.at) <= at);
  ui.timeline.insertBefore(item, later ?? null);
  while (ui.timeline.children.length > MAX_ENTRIES) ui.timeline.lastElementChild.remove();
}

// What went over the wire, from the browser's resource timing: every fetch the page and the
// SDK made (the SDK's refreshes and retries included), with its status.
const unanswered401s = new Map(); // path -> 401s not yet followed by a retry
let last401End = -Infinity;

// Safari (WebKit) does not report `responseStatus` in resource timing. There the timeline
// takes a refresh's outcome from the client's next state, and counts any API answer that
// ended just before a refresh began as the 401 that caused it.
const statusReported = "responseStatus" in PerformanceResourceTiming.prototype;
let lastApiEnd = -Infinity;

function describeRefresh(entry, at, status) {
  const path = "/auth/refresh";
  const after401 = statusReported
    ? entry.startTime - last401End < 2000
    : entry.startTime - lastApiEnd < 50;
  const cause = after401 ? "refresh after a 401" : "proactive refresh";
  if (status === 200) {
    record("refresh", cause, `POST ${path} → 200, new access token held in wasm`, at);
  } else {
    record("bad", "refresh refused", `POST ${path} → ${status || "refused"}: no live session`, at);
  }
}

/** The state the client settled in after the refresh now running (or just finished). */
function settledState() {
  if (currentState !== "refreshing") return Promise.resolve(currentState);
  return new Promise((resolve) => {
    const off = auth.onChange((state) => {
      if (state === "refreshing") return;
      off();
      resolve(state);
    });
  });
}

function describe(entry) {
  const url = new URL(entry.name);
  const at = performance.timeOrigin + entry.startTime;
  const status = entry.responseStatus || "";
  const path = url.pathname;
  if (url.origin !== location.origin) {
    record("info", "other origin", `GET ${url.host}${path} (sent without the token)`, at);
  } else if (path === "/auth/refresh") {
    if (statusReported) describeRefresh(entry, at, status);
    else settledState().then((state) => describeRefresh(entry, at, state === "signed-in" ? 200 : ""));
  } else if (!statusReported && path.startsWith("/api/")) {
    lastApiEnd = entry.responseEnd;
    record("ok", "sent", path, at);
  } else if (path === "/auth/login") {
    const kind = !statusReported ? "info" : status === 200 ? "ok" : "bad";
    record(kind, "sign-in", `POST ${path}${status ? ` → ${status}` : ""}`, at);
  } else if (path === "/auth/logout") {
    record("info", "sign-out", `POST ${path}${status ? ` → ${status}` : ""}`, at);
  } else if (path === "/auth/demo/steal") {
    record("bad", "thief", `a copy of the refresh cookie was used elsewhere${status ? ` → ${status}` : ""}`, at);
  } else if (path.startsWith("/api/")) {
    if (status === 401) {
      last401End = entry.responseEnd;
      unanswered401s.set(path, (unanswered401s.get(path) ?? 0) + 1);
      record("bad", "401", `${path}: token rejected`, at);
    } else if (unanswered401s.get(path) > 0) {
      unanswered401s.set(path, unanswered401s.get(path) - 1);
      record("ok", `retry ${status}`, `${path} sent again with the new token`, at);
    } else {
      record(status < 400 ? "ok" : "bad", String(status), path, at);
    }
  }
}

new PerformanceObserver((list) => {
  const fetches = list.getEntries().filter((e) => e.initiatorType === "fetch");
  fetches.sort((a, b) => a.startTime - b.startTime).forEach(describe);
}).observe({ type: "resource" });

// ---- the session panel -------------------------------------------------------------------

let lifetimeMs = 0;
let theftSimulated = false;

function showBanner(text) {
  ui.banner.textContent = text;
  ui.banner.hidden = !text;
}

function render(state) {
  ui.state.dataset.state = state;
  ui.state.textContent = state;
  const signedIn = state === "signed-in" || (state === "refreshing" && auth.isAuthenticated);
  ui.signIn.hidden = signedIn || state === "refreshing";
  ui.signOut.hidden = !signedIn;
  if (!signedIn && state !== "refreshing") ui.user.textContent = "—";
}

let currentState = "unknown";
auth.onChange((state) => {
  currentState = state;
  record("info", "state", `→ ${state}`);
  if (state === "signed-in") {
    lifetimeMs = Math.max(0, (auth.expiresAt ?? Date.now()) - Date.now());
    showBanner("");
  }
  if (state === "expired") {
    showBanner(
      theftSimulated
        ? "Session revoked: the server saw the same refresh token twice (reuse detection) and ended the whole session, for the thief and for you. Sign in again."
        : "Your session has ended on the server. Sign in again.",
    );
    theftSimulated = false;
  }
  render(state);
  tick();
});

function tick() {
  const expiresAt = auth.expiresAt;
  if (expiresAt === undefined) {
    ui.countdown.textContent = "—";
    ui.meter.style.width = "0";
    return;
  }
  const left = expiresAt - Date.now();
  ui.countdown.textContent = left > 0 ? `in ${(left / 1000).toFixed(1)} s` : "expired (refreshed on the next call)";
  ui.meter.style.width = `${lifetimeMs ? Math.max(0, Math.min(100, (left / lifetimeMs) * 100)) : 0}%`;
}
setInterval(tick, 200);

// ---- actions -------------------------------------------------------------------------------

function show(text) {
  ui.result.textContent = text;
}

function explain(error) {
  if (error instanceof AuthError) return `AuthError ${error.code}: ${error.message}`;
  return `${error.name}: ${error.message}`;
}

/** Runs an action with its button disabled, showing any error instead of throwing it. */
async function run(button, action) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    show(explain(error));
  } finally {
    button.disabled = false;
  }
}

async function loadUser() {
  const response = await auth.fetch("/api/me");
  if (response.ok) {
    const me = await response.json();
    ui.user.textContent = me.username;
    return `${response.status} ${JSON.stringify(me)}`;
  }
  return `${response.status} ${await response.text()}`;
}

const actions = {
  async me() {
    show(await loadUser());
  },
  async burst() {
    const startedAt = performance.now();
    const responses = await Promise.all(Array.from({ length: 20 }, () => auth.fetch("/api/items")));
    const counts = {};
    for (const response of responses) counts[response.status] = (counts[response.status] ?? 0) + 1;
    const refreshes = performance
      .getEntriesByType("resource")
      .filter((e) => e.startTime >= startedAt && new URL(e.name).pathname === "/auth/refresh").length;
    const summary = Object.entries(counts).map(([status, n]) => `${n} × ${status}`).join(", ");
    show(`20 requests at once: ${summary}. Refresh calls they caused: ${refreshes}.`);
  },
  async echo() {
    const body = JSON.stringify({ message: "hello from the demo", sentAt: new Date().toISOString() });
    const response = await auth.fetch("/api/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    show(`${response.status} ${await response.text()}`);
  },
  async foreign() {
    // The same server under its other name: another origin (and another site) for the browser.
    const other = new URL("/demo/headers", location.href);
    other.hostname = location.hostname === "localhost" ? "127.0.0.1" : "localhost";
    const response = await auth.fetch(other);
    const seen = await response.json();
    show(`${other.origin} received Authorization: ${seen.authorization}. The token only goes to ${location.origin}.`);
  },
  async steal() {
    const response = await fetch("/auth/demo/steal", { method: "POST" });
    if (!response.ok) {
      show(`${response.status}: ${(await response.json()).error}`);
      return;
    }
    theftSimulated = true;
    show("A thief used a copy of your refresh token. Refreshing now: the server sees that token a second time…");
    try {
      await auth.refresh();
    } catch (error) {
      if (!(error instanceof AuthError && error.code === "session_expired")) throw error;
      show("The server refused the reused token and revoked the session: signed out everywhere.");
    }
  },
};

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () => run(button, actions[button.dataset.action]));
}

ui.signIn.addEventListener("submit", (event) => {
  event.preventDefault();
  const button = ui.signIn.querySelector("button");
  const form = new FormData(ui.signIn);
  run(button, async () => {
    try {
      await auth.login({ username: form.get("username"), password: form.get("password") });
    } catch (error) {
      if (error instanceof AuthError && error.code === "login_failed") {
        show("Wrong username or password. The demo user is demo / demo.");
        return;
      }
      throw error;
    }
    show(await loadUser());
  });
});

ui.signOut.addEventListener("click", () =>
  run(ui.signOut, async () => {
    await auth.logout();
    show("Signed out: the token is forgotten and the server revoked the session.");
  }),
);

// A fresh page load holds no token. Refreshing with the httpOnly cookie brings a signed-in
// user's session back, so a reload keeps them signed in.
run(ui.signOut, async () => {
  try {
    await auth.refresh();
  } catch (error) {
    if (error instanceof AuthError && error.code === "session_expired") {
      show("Not signed in. Sign in with the demo user to start.");
      return;
    }
    throw error;
  }
  show(await loadUser());
});
