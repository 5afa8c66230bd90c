//! Where a request goes, as far as the token is concerned.

/// The origin of `url` as the browser serialises a request's URL (`Request.url`:
/// `scheme://host[:port]/…`, host lower-case, default port dropped, no credentials), for
/// `http` and `https` only: other schemes never reach a server that could want the token.
pub fn origin_of_url(url: &[u8]) -> Option<&[u8]> {
    let rest = url
        .strip_prefix(b"https://")
        .or_else(|| url.strip_prefix(b"http://"))?;
    let authority = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let end = url.len() - rest.len() + authority;
    url.get(..end).filter(|_| authority > 0)
}
