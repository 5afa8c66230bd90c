//! Where a request goes, as far as the token is concerned.

/// The origin of `url` as the browser serialises a request's URL (`Request.url`:
/// `scheme://host[:port]/…`, host lower-case, default port dropped, no credentials), for
/// `http` and `https` only: other schemes never reach a server that could want the token.
pub fn origin_of_url(url: &[u8]) -> Option<&[u8]> {
    // Not `strip_prefix`: its `split_at` brings a panic path into the wasm bundle.
    let after = |scheme: &[u8]| {
        (url.get(..scheme.len()) == Some(scheme)).then(|| url.get(scheme.len()..))?
    };
    let rest = after(b"https://").or_else(|| after(b"http://"))?;
    let authority = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let end = url.len() - rest.len() + authority;
    url.get(..end).filter(|_| authority > 0)
}
