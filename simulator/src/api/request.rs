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

/// An [`ApiRequest`] that owns its parts, to carry it to another thread.
#[derive(Debug, Clone)]
pub(crate) struct OwnedRequest {
    method: String,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    subscription_key: Option<String>,
    admin_token: Option<String>,
    body: Vec<u8>,
    base_url: String,
    peer_loopback: bool,
}

impl ApiRequest<'_> {
    pub(crate) fn owned(self) -> OwnedRequest {
        OwnedRequest {
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            query: self.query.map(str::to_owned),
            authorization: self.authorization.map(str::to_owned),
            subscription_key: self.subscription_key.map(str::to_owned),
            admin_token: self.admin_token.map(str::to_owned),
            body: self.body.to_vec(),
            base_url: self.base_url.to_owned(),
            peer_loopback: self.peer_loopback,
        }
    }
}

impl OwnedRequest {
    pub(crate) fn borrow(&self) -> ApiRequest<'_> {
        ApiRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            authorization: self.authorization.as_deref(),
            subscription_key: self.subscription_key.as_deref(),
            admin_token: self.admin_token.as_deref(),
            body: &self.body,
            base_url: &self.base_url,
            peer_loopback: self.peer_loopback,
        }
    }
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
