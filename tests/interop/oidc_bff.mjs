// A test fixture: oidc-provider (panva's certified OpenID Provider) and, in front of it, the
// small token-mediating backend that the IETF "OAuth 2.0 for Browser-Based Applications" draft
// describes. The backend signs the user in with the authorization code flow (PKCE, a
// confidential client), keeps the provider's refresh token in a server-side session named by an
// httpOnly cookie, and exposes a cookie-authenticated POST /auth/refresh that redeems it at the
// provider: the provider's own rotation and reuse revocation decide every refresh. Access tokens
// are the provider's JWTs, checked by /api/me against the provider's published keys.
//
// Not a product: one user session store in memory, no CSRF defence beyond SameSite=Strict, no
// error pages. Usage: node oidc_bff.mjs PKG_DIR PAGE_DIR  (prints "listening on <bff url>").
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import Provider from "oidc-provider";
import { createRemoteJWKSet, jwtVerify } from "jose";

const [pkgDir, pageDir] = process.argv.slice(2);
const ACCESS_SECONDS = 4;
const CLIENT = { id: "bff", secret: randomBytes(24).toString("base64url") };
const API = "urn:authfetch:api";

const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const bff = createServer((request, response) => route(request, response).catch((error) => {
  console.error(error);
  send(response, 500, { error: "server_error" });
}));
const bffUrl = `http://127.0.0.1:${await listen(bff)}`;
const providerHttp = createServer();
const issuer = `http://127.0.0.1:${await listen(providerHttp)}`;

const ownToken = async (_ctx, client, token) => token.clientId === client.clientId;
const signingKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT.id,
    client_secret: CLIENT.secret,
    redirect_uris: [`${bffUrl}/auth/callback`],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    id_token_signed_response_alg: "ES256", // the one key is an EC P-256 key
  }],
  jwks: { keys: [{ ...signingKey, kid: "interop", alg: "ES256", use: "sig" }] },
  scopes: ["openid", "offline_access", "api"],
  ttl: { AccessToken: ACCESS_SECONDS, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 86400, Grant: 86400, RefreshToken: 86400 },
  features: {
    devInteractions: { enabled: true }, // the provider's own login and consent forms
    // Introspection lets the tests ask whether a refresh token is live; sign-out revokes one.
    introspection: { enabled: true, allowedPolicy: ownToken },
    revocation: { enabled: true, allowedPolicy: ownToken },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: "api", audience: API, accessTokenTTL: ACCESS_SECONDS, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } }),
    },
  },
  rotateRefreshToken: true, // every refresh spends the token it presented
  // Consent given in the dev form covers the resource too.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
});
provider.on("server_error", (_ctx, error) => console.error(error));
providerHttp.on("request", provider.callback());

const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
// WebKit drops Secure cookies from http://127.0.0.1; its run turns Secure off (support.mjs).
const secure = process.env.INTEROP_SECURE_COOKIES === "0" ? "" : "; Secure";
const sessions = new Map(); // cookie value -> { refreshToken } or { state, verifier }
const counts = { refresh_calls: 0, refresh_ok: 0, refresh_refused: 0, api_calls: 0 };

function send(response, status, body, headers = {}) {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  response.end(JSON.stringify(body));
}

function cookie(request, name) {
  for (const pair of (request.headers.cookie ?? "").split(";")) {
    const [key, ...value] = pair.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

const sessionCookie = (value, maxAge) =>
  `bff_session=${value}; Path=/; HttpOnly${secure}; SameSite=Strict${maxAge === undefined ? "" : `; Max-Age=${maxAge}`}`;

const clientAuthorization = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString("base64")}`;

async function text(request) {
  let body = "";
  for await (const chunk of request) body += chunk;
  return body;
}

/** The provider's token endpoint, authenticated as the confidential client. */
async function tokenRequest(form) {
  const response = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: clientAuthorization,
    },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: await response.json() };
}

async function route(request, response) {
  const url = new URL(request.url, bffUrl);
  const id = cookie(request, "bff_session");
  const session = id ? sessions.get(id) : undefined;

  // The browser navigates here to sign in; the provider's forms take it from there.
  if (request.method === "GET" && url.pathname === "/auth/login") {
    const login = randomBytes(24).toString("base64url");
    const verifier = randomBytes(32).toString("base64url");
    const state = randomBytes(16).toString("base64url");
    sessions.set(login, { state, verifier });
    const authorize = new URL(`${issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: CLIENT.id, response_type: "code", redirect_uri: `${bffUrl}/auth/callback`,
      scope: "openid offline_access api", prompt: "consent", state, resource: API,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256",
    });
    response.writeHead(302, { location: authorize.href, "set-cookie": sessionCookie(login, 600) });
    return response.end();
  }
  if (request.method === "GET" && url.pathname === "/auth/callback") {
    if (!session?.verifier || url.searchParams.get("state") !== session.state) return send(response, 400, { error: "bad state" });
    const { status, body } = await tokenRequest({
      grant_type: "authorization_code", code: url.searchParams.get("code") ?? "", redirect_uri: `${bffUrl}/auth/callback`,
      code_verifier: session.verifier, resource: API,
    });
    if (status !== 200 || !body.refresh_token) return send(response, 502, { error: "code exchange failed", status, body });
    sessions.delete(id);
    const signedIn = randomBytes(24).toString("base64url");
    sessions.set(signedIn, { refreshToken: body.refresh_token });
    response.writeHead(302, { location: "/", "set-cookie": sessionCookie(signedIn) });
    return response.end();
  }
  // What authfetch calls: the session's refresh token redeemed at the provider.
  if (request.method === "POST" && url.pathname === "/auth/refresh") {
    counts.refresh_calls += 1;
    if (!session?.refreshToken) return send(response, 401, { error: "no session" });
    const { status, body } = await tokenRequest({ grant_type: "refresh_token", refresh_token: session.refreshToken, resource: API });
    if (status !== 200) {
      // invalid_grant: the provider refused the refresh token (spent, revoked, expired).
      counts.refresh_refused += 1;
      sessions.delete(id);
      return send(response, 401, { error: body.error ?? "refused" }, { "set-cookie": sessionCookie("", 0) });
    }
    session.refreshToken = body.refresh_token; // the provider rotated it
    counts.refresh_ok += 1;
    return send(response, 200, { access_token: body.access_token, expires_in: body.expires_in });
  }
  if (request.method === "POST" && url.pathname === "/auth/logout") {
    if (session?.refreshToken) {
      await fetch(`${issuer}/token/revocation`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: clientAuthorization },
        body: new URLSearchParams({ token: session.refreshToken, token_type_hint: "refresh_token" }),
      });
      sessions.delete(id);
    }
    response.writeHead(204, { "set-cookie": sessionCookie("", 0) });
    return response.end();
  }
  if (request.method === "GET" && url.pathname === "/api/me") {
    counts.api_calls += 1;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    try {
      const { payload } = await jwtVerify(token ?? "", jwks, { issuer, audience: API });
      return send(response, 200, { sub: payload.sub });
    } catch {
      return send(response, 401, { error: "invalid_token" }, { "www-authenticate": "Bearer" });
    }
  }
  // Test controls. A thief who got hold of the provider's refresh token redeems it first,
  // leaving the session holding a spent one.
  if (request.method === "POST" && url.pathname === "/test/steal") {
    if (!session?.refreshToken) return send(response, 400, { error: "no session" });
    const { status, body } = await tokenRequest({ grant_type: "refresh_token", refresh_token: session.refreshToken, resource: API });
    return send(response, 200, { thief_status: status, thief_refresh_token: body.refresh_token });
  }
  if (request.method === "GET" && url.pathname === "/test/session") {
    return send(response, 200, { refresh_token: session?.refreshToken ?? null });
  }
  // Whether the provider would still accept `token`, asked without spending it.
  if (request.method === "POST" && url.pathname === "/test/introspect") {
    const { token } = JSON.parse(await text(request));
    const answer = await fetch(`${issuer}/token/introspection`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: clientAuthorization },
      body: new URLSearchParams({ token }),
    });
    return send(response, 200, { active: (await answer.json()).active });
  }
  if (request.method === "GET" && url.pathname === "/test/stats") return send(response, 200, counts);
  if (request.method === "GET") return serveFile(url.pathname, response);
  return send(response, 404, { error: "not found" });
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
async function serveFile(pathname, response) {
  const [root, rest] = pathname.startsWith("/pkg/") ? [pkgDir, pathname.slice(5)] : [pageDir, pathname === "/" ? "page.html" : pathname.slice(1)];
  const path = normalize(join(root, rest));
  if (!path.startsWith(normalize(root))) return send(response, 404, { error: "not found" });
  try {
    const body = await readFile(path);
    response.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
    response.end(body);
  } catch {
    send(response, 404, { error: "not found" });
  }
}

console.log(`provider at ${issuer}`);
console.log(`listening on ${bffUrl}`);
process.on("SIGTERM", () => { bff.close(); providerHttp.close(); process.exit(0); });
