//! Origins (scheme, host, port) and the set of API origins that receive the token.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::core::error::decimal;

/// A tuple origin, normalised: scheme and host in lower case, the scheme's default port
/// dropped, no trailing slash. Opaque origins (`"null"`) cannot be represented, so they never
/// match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// Why a string is not an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginError {
    /// `"null"`: an opaque origin (sandboxed frame, `data:` or `file:` URL).
    Opaque,
    /// No `scheme://`.
    MissingScheme,
    /// Nothing between `://` and the port or end.
    MissingHost,
    /// A path, query, fragment or credentials after the host.
    NotAnOrigin,
    /// A port that is not a number from 0 to 65535.
    BadPort,
    /// A host with characters outside ASCII letters, digits, `-`, `.`, or a bracketed IPv6.
    BadHost,
}

impl OriginError {
    /// Why, in words.
    pub fn message(self) -> &'static str {
        match self {
            Self::Opaque => "\"null\" (an opaque origin) can never match",
            Self::MissingScheme => "expected scheme://host[:port]",
            Self::MissingHost => "the host is missing",
            Self::NotAnOrigin => "an origin has no path, query, fragment or credentials",
            Self::BadPort => "the port is not a number from 0 to 65535",
            Self::BadHost => {
                "the host has characters not allowed in an origin (write IDN hosts in punycode)"
            }
        }
    }
}

impl Origin {
    /// Parses `scheme://host[:port]`, with at most one trailing `/`.
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let text = text.trim();
        if text == "null" {
            return Err(OriginError::Opaque);
        }
        // The first ':' ends the scheme (a scheme cannot contain one). A char search, not a
        // substring search: the latter's code is a measurable part of the wasm bundle.
        let (scheme, rest) = text.split_once(':').ok_or(OriginError::MissingScheme)?;
        let rest = rest.strip_prefix("//").ok_or(OriginError::MissingScheme)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Err(OriginError::MissingScheme);
        }
        if rest.contains(['/', '?', '#', '@', '\\']) {
            return Err(OriginError::NotAnOrigin);
        }
        let (host, port) = split_port(rest)?;
        if host.is_empty() {
            return Err(OriginError::MissingHost);
        }
        let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
        {
            !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        } else {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        if !host_ok {
            return Err(OriginError::BadHost);
        }
        let scheme = scheme.to_ascii_lowercase();
        let port = port.filter(|&p| Some(p) != default_port(&scheme));
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The serialised origin, as `location.origin` would print it.
    pub fn serialize(&self) -> String {
        let mut out = [self.scheme.as_str(), "://", self.host.as_str()].concat();
        if let Some(port) = self.port {
            out.push(':');
            out.push_str(&decimal(u64::from(port)));
        }
        out
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), OriginError> {
    // The last ':' separates the port, unless it sits inside an IPv6 literal's brackets.
    let Some((host, port)) = authority
        .rsplit_once(':')
        .filter(|(_, port)| !port.contains(']'))
    else {
        return Ok((authority, None));
    };
    if port.is_empty() {
        // "https://host:" is what URL parsers accept as the default port.
        return Ok((host, None));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OriginError::BadPort);
    }
    port.parse::<u16>()
        .map(|p| (host, Some(p)))
        .map_err(|_| OriginError::BadPort)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// The origins whose requests receive the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOrigins(Vec<Origin>);

impl ApiOrigins {
    /// The set of `origins`.
    pub fn new(origins: Vec<Origin>) -> Self {
        Self(origins)
    }

    /// Whether a request to a URL whose origin serialises as `origin` (the browser's
    /// `URL.origin`) may carry the token. Opaque and unparsable origins never may.
    pub fn admits(&self, origin: &str) -> bool {
        Origin::parse(origin).is_ok_and(|o| self.0.contains(&o))
    }

    /// The origins, serialised.
    pub fn list(&self) -> impl Iterator<Item = &Origin> {
        self.0.iter()
    }
}
