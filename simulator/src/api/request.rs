//! A request as the API sees it, and reading its path and query.

/// A request as the API sees it.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The path, percent-encoded as received (`/v1/instances/...`).
    pub path: &'a str,
    /// The raw query string after `?`, if any.
    pub query: Option<&'a str>,
    /// `Authorization` header.
    pub authorization: Option<&'a str>,
    /// `Ocp-Apim-Subscription-Key` header.
    pub subscription_key: Option<&'a str>,
    /// `X-Insightsim-Admin-Token` header.
    pub admin_token: Option<&'a str>,
    pub body: &'a [u8],
    /// Scheme and authority the client used (`http://127.0.0.1:8080`), for absolute URLs.
    pub base_url: &'a str,
    /// Whether the peer is on the loopback interface.
    pub peer_loopback: bool,
}

/// Splits a path into its percent-decoded segments.
pub(super) fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// Reads one non-`$` query parameter (percent-decoded), if present.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        k.eq_ignore_ascii_case(name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}
