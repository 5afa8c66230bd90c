//! The refresh and CSRF cookies: reading them from requests, writing `Set-Cookie`.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::error::ApiError;

/// The httpOnly cookie holding the refresh token.
pub(crate) const REFRESH_COOKIE: &str = "refresh_token";
/// The readable cookie holding the CSRF double-submit value.
pub(crate) const CSRF_COOKIE: &str = "csrf_refresh_token";
/// The header the CSRF value must be mirrored in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Scoped to `/auth` so the refresh token travels only to the auth endpoints, never to the API.
const REFRESH_COOKIE_PATH: &str = "/auth";
/// Scoped to `/` so the page (any path) can read it to build the header.
const CSRF_COOKIE_PATH: &str = "/";

/// The value of cookie `name` in the request's `Cookie` headers, if present. Malformed pairs
/// are skipped, as browsers do.
pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
}

/// Whether cookies for this request carry `Secure`: always, unless `loopback_http` (the
/// `--loopback-http-cookies` flag) is set and the request comes from a page on this machine:
/// addressed to a loopback name, from an `Origin` that is plain http on a loopback name, and
/// not through a proxy. (A reverse proxy on the same machine often rewrites `Host` to the
/// backend's loopback address; the page's `Origin` and the proxy's own headers tell it apart.
/// Browsers send `Origin` on every POST, which login, refresh and logout are by default.)
pub(crate) fn secure_for(headers: &HeaderMap, loopback_http: bool) -> Secure {
    if !loopback_http {
        return Secure::Yes;
    }
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    let proxied = PROXY_HEADERS.iter().any(|name| headers.contains_key(*name));
    let from_loopback_page = text(header::ORIGIN)
        .and_then(|origin| origin.strip_prefix("http://"))
        .is_some_and(is_loopback_host);
    let to_loopback = text(header::HOST).is_some_and(is_loopback_host);
    if to_loopback && from_loopback_page && !proxied {
        Secure::No
    } else {
        Secure::Yes
    }
}

/// Headers a proxy adds: their presence means the request did not come straight from a page.
const PROXY_HEADERS: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
];

/// Whether cookies carry the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secure {
    Yes,
    No,
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a numeric port, and nothing else.
fn is_loopback_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((name, "")) => (name, None),
            Some((name, rest)) => match rest.strip_prefix(':') {
                Some(port) => (name, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok());
    port_ok && matches!(name, "127.0.0.1" | "localhost" | "::1")
}

/// `Set-Cookie` for the refresh token, living `max_age_seconds`.
pub(crate) fn set_refresh(
    value: &str,
    max_age_seconds: u64,
    secure: Secure,
) -> Result<HeaderValue, ApiError> {
    build(
        REFRESH_COOKIE,
        value,
        REFRESH_COOKIE_PATH,
        max_age_seconds,
        true,
        secure,
    )
}

/// `Set-Cookie` for the CSRF value, living as long as the refresh token.
pub(crate) fn set_csrf(
    value: &str,
    max_age_seconds: u64,
    secure: Secure,
) -> Result<HeaderValue, ApiError> {
    build(
        CSRF_COOKIE,
        value,
        CSRF_COOKIE_PATH,
        max_age_seconds,
        false,
        secure,
    )
}

/// `Set-Cookie` headers that delete the refresh cookie, and the CSRF cookie when in use.
pub(crate) fn clear(csrf: bool, secure: Secure) -> Result<Vec<HeaderValue>, ApiError> {
    let mut cleared = vec![build(
        REFRESH_COOKIE,
        "",
        REFRESH_COOKIE_PATH,
        0,
        true,
        secure,
    )?];
    if csrf {
        cleared.push(build(CSRF_COOKIE, "", CSRF_COOKIE_PATH, 0, false, secure)?);
    }
    Ok(cleared)
}

fn build(
    name: &str,
    value: &str,
    path: &str,
    max_age_seconds: u64,
    http_only: bool,
    secure: Secure,
) -> Result<HeaderValue, ApiError> {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    let secure = match secure {
        Secure::Yes => "; Secure",
        Secure::No => "",
    };
    let cookie = format!(
        "{name}={value}{http_only}{secure}; SameSite=Strict; Path={path}; Max-Age={max_age_seconds}"
    );
    HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(&e))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts_are_told_apart_from_lookalikes() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "localhost",
            "localhost:3000",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "example.com",
            "localhost.example.com",
            "127.0.0.1.example.com",
            "[::2]:80",
            "10.0.0.1",
            "localhost.",
            "LOCALHOST",
            "127.0.0.1:x:y",
            "localhost:junk",
            "[::1",
            "[::1]x",
            "[::ffff:127.0.0.1]",
            "127.0.0.2",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
