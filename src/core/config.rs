//! The options object of `new AuthClient(options)`, validated with messages that name the option.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::core::error::{AuthError, ErrorCode};
use crate::core::origin::{ApiOrigins, Origin};
use crate::core::value::Value;

/// How the refresh endpoint is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMethod {
    /// `POST` (the default).
    Post,
    /// `GET`.
    Get,
}

impl RefreshMethod {
    /// The HTTP method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Get => "GET",
        }
    }
}

/// The CSRF double-submit: copy cookie `cookie` into header `header` on refresh and logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csrf {
    /// The readable cookie's name.
    pub cookie: String,
    /// The request header's name.
    pub header: String,
}

/// Validated options. URLs are kept as given; the shell resolves them against the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Origins whose requests carry the token.
    pub api_origins: ApiOrigins,
    /// The refresh endpoint.
    pub refresh_url: String,
    /// How to call it.
    pub refresh_method: RefreshMethod,
    /// The login endpoint.
    pub login_url: String,
    /// The logout endpoint.
    pub logout_url: String,
    /// The JSON field holding the access token in refresh answers.
    pub token_field: String,
    /// The field in login answers; `None`: login answers carry no token.
    pub login_token_field: Option<String>,
    /// The JSON field holding the lifetime in seconds.
    pub expires_in_field: String,
    /// How long before a known expiry to refresh, in milliseconds.
    pub refresh_leeway_ms: f64,
    /// Extra headers on refresh and logout calls.
    pub refresh_headers: Vec<(String, String)>,
    /// The CSRF double-submit, if configured.
    pub csrf: Option<Csrf>,
    /// Limit for each network call and for the wait on the cross-tab lock, in milliseconds.
    pub timeout_ms: u32,
    /// Coordinate refresh and sign-out across tabs.
    pub cross_tab: bool,
}

const KNOWN: [&str; 13] = [
    "apiOrigins",
    "refreshUrl",
    "refreshMethod",
    "loginUrl",
    "logoutUrl",
    "tokenField",
    "loginTokenField",
    "expiresInField",
    "refreshLeewaySeconds",
    "refreshHeaders",
    "csrf",
    "timeoutMs",
    "crossTab",
];

/// `setTimeout` treats larger delays as 0.
const MAX_TIMEOUT_MS: f64 = 2_147_483_647.0;

impl Options {
    /// Validates `options` (`undefined` for all defaults). `page_origin` is `location.origin`,
    /// the default for `apiOrigins`.
    pub fn from_value(options: &Value, page_origin: &str) -> Result<Self, AuthError> {
        let entries: &[(String, Value)] = match options {
            Value::Undefined | Value::Null => &[],
            Value::Object(entries) => entries,
            other => return Err(invalid(&["options must be an object, got ", other.kind()])),
        };
        // A misspelt option silently falling back to its default (say, the token going to the
        // page's own origin instead of the API's) is worse than an error.
        if let Some((unknown, _)) = entries
            .iter()
            .find(|(key, _)| !KNOWN.contains(&key.as_str()))
        {
            return Err(invalid(&[
                "unknown option \"",
                unknown,
                "\" (check its spelling)",
            ]));
        }
        let token_field = name(options, "tokenField", "access_token")?;
        let login_token_field = match options.get("loginTokenField") {
            Value::Undefined => Some(token_field.clone()),
            Value::Null => None,
            _ => Some(name(options, "loginTokenField", "")?),
        };
        Ok(Self {
            api_origins: api_origins(options.get("apiOrigins"), page_origin)?,
            refresh_url: name(options, "refreshUrl", "/auth/refresh")?,
            refresh_method: match options.get("refreshMethod") {
                Value::Undefined => RefreshMethod::Post,
                Value::String(m) if m.eq_ignore_ascii_case("POST") => RefreshMethod::Post,
                Value::String(m) if m.eq_ignore_ascii_case("GET") => RefreshMethod::Get,
                _ => return Err(invalid(&["refreshMethod must be \"POST\" or \"GET\""])),
            },
            login_url: name(options, "loginUrl", "/auth/login")?,
            logout_url: name(options, "logoutUrl", "/auth/logout")?,
            token_field,
            login_token_field,
            expires_in_field: name(options, "expiresInField", "expires_in")?,
            refresh_leeway_ms: match options.get("refreshLeewaySeconds") {
                Value::Undefined => 30_000.0,
                Value::Number(s) if s.is_finite() && *s >= 0.0 => s * 1000.0,
                _ => {
                    return Err(invalid(&[
                        "refreshLeewaySeconds must be a number of seconds, 0 or more",
                    ]));
                }
            },
            refresh_headers: refresh_headers(options.get("refreshHeaders"))?,
            csrf: csrf(options.get("csrf"))?,
            timeout_ms: match options.get("timeoutMs") {
                Value::Undefined => 30_000,
                Value::Number(ms) if *ms >= 1.0 && *ms <= MAX_TIMEOUT_MS => *ms as u32,
                _ => {
                    return Err(invalid(&[
                        "timeoutMs must be a number of milliseconds from 1 to 2147483647",
                    ]));
                }
            },
            cross_tab: match options.get("crossTab") {
                Value::Undefined => true,
                Value::Bool(on) => *on,
                _ => return Err(invalid(&["crossTab must be true or false"])),
            },
        })
    }
}

fn invalid(parts: &[&str]) -> AuthError {
    AuthError::new(ErrorCode::InvalidConfig, parts.concat())
}

/// A non-empty string option, or `default` when absent.
fn name(options: &Value, key: &str, default: &str) -> Result<String, AuthError> {
    match options.get(key) {
        Value::Undefined if !default.is_empty() => Ok(default.to_owned()),
        Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
        other => Err(invalid(&[
            key,
            " must be a non-empty string, got ",
            other.kind(),
        ])),
    }
}

fn api_origins(value: &Value, page_origin: &str) -> Result<ApiOrigins, AuthError> {
    let origins = match value {
        Value::Undefined => {
            let page = Origin::parse(page_origin).map_err(|_| {
                invalid(&[
                    "apiOrigins is required: this page has no origin to default to (",
                    page_origin,
                    ")",
                ])
            })?;
            vec![page]
        }
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Origin::parse(text).map_err(|why| {
                    invalid(&[
                        "apiOrigins: \"",
                        text,
                        "\" is not an origin: ",
                        why.message(),
                    ])
                }),
                other => Err(invalid(&[
                    "apiOrigins must hold origin strings, got ",
                    other.kind(),
                ])),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(invalid(&[
                "apiOrigins must be a non-empty array of origins like \"https://api.example.com\"",
            ]));
        }
    };
    Ok(ApiOrigins::new(origins))
}

fn refresh_headers(value: &Value) -> Result<Vec<(String, String)>, AuthError> {
    let entries = match value {
        Value::Undefined => return Ok(Vec::new()),
        Value::Object(entries) => entries,
        other => {
            return Err(invalid(&[
                "refreshHeaders must be an object of header names to strings, got ",
                other.kind(),
            ]));
        }
    };
    entries
        .iter()
        .map(|(header, value)| {
            if !is_header_name(header) {
                return Err(invalid(&[
                    "refreshHeaders: \"",
                    header,
                    "\" is not a valid header name",
                ]));
            }
            match value {
                Value::String(text) if is_header_value(text) => Ok((header.clone(), text.clone())),
                Value::String(_) => Err(invalid(&[
                    "refreshHeaders: the value of \"",
                    header,
                    "\" has characters not allowed in a header",
                ])),
                other => Err(invalid(&[
                    "refreshHeaders: the value of \"",
                    header,
                    "\" must be a string, got ",
                    other.kind(),
                ])),
            }
        })
        .collect()
}

fn csrf(value: &Value) -> Result<Option<Csrf>, AuthError> {
    match value {
        Value::Undefined | Value::Null => Ok(None),
        Value::Object(_) => {
            let cookie = match value.get("cookie") {
                Value::String(c) if is_header_name(c) => c.clone(),
                _ => return Err(invalid(&["csrf.cookie must be a cookie name"])),
            };
            let header = match value.get("header") {
                Value::String(h) if is_header_name(h) => h.clone(),
                _ => return Err(invalid(&["csrf.header must be a header name"])),
            };
            Ok(Some(Csrf { cookie, header }))
        }
        _ => Err(invalid(&["csrf must be { cookie, header } or null"])),
    }
}

/// An RFC 9110 token: what header and cookie names are made of.
fn is_header_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_header_value(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}
