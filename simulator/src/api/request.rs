//! A request as the API sees it, and reading its path and query.

use std::borrow::Cow;

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

/// Segments a route looks at; a path with more matches no route.
const SEGMENTS_MAX: usize = 8;

/// A path's segments, percent-decoded (a segment is copied only when it holds a `%`), kept on
/// the stack: routing a request allocates nothing for its path.
pub(super) struct Segments<'a> {
    decoded: [Cow<'a, str>; SEGMENTS_MAX + 1],
    len: usize,
}

impl<'a> Segments<'a> {
    /// Splits `path`. Past [`SEGMENTS_MAX`] segments the rest of the path is kept whole in one
    /// more segment, so that a route matching a prefix still sees a path longer than it knows.
    pub(super) fn of(path: &'a str) -> Segments<'a> {
        let mut decoded: [Cow<'a, str>; SEGMENTS_MAX + 1] = Default::default();
        let mut len = 0;
        let mut rest = path;
        while len <= SEGMENTS_MAX {
            rest = rest.trim_start_matches('/');
            if rest.is_empty() {
                break;
            }
            let (segment, after) = match rest.find('/') {
                Some(end) if len < SEGMENTS_MAX => (&rest[..end], &rest[end..]),
                _ => (rest, ""),
            };
            decoded[len] = if segment.contains('%') {
                percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
            } else {
                Cow::Borrowed(segment)
            };
            len += 1;
            rest = after;
        }
        Segments { decoded, len }
    }

    /// The segments, to match routes against.
    pub(super) fn strs(&self) -> [&str; SEGMENTS_MAX + 1] {
        std::array::from_fn(|i| self.decoded[i].as_ref())
    }

    pub(super) fn len(&self) -> usize {
        self.len
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
    let query = query?;
    // Without a `%`, the name can only be there as written (in any case): most queries are
    // answered without decoding a single parameter.
    if !query.contains('%') && !contains_ignore_ascii_case(query, name) {
        return None;
    }
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        k.eq_ignore_ascii_case(name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &[&str]) {
        let segs = Segments::of(path);
        assert_eq!(&segs.strs()[..segs.len()], expected, "{path}");
    }

    #[test]
    fn segments_split_decode_and_keep_a_long_tail_whole() {
        check("", &[]);
        check("/", &[]);
        check("/v1/instances", &["v1", "instances"]);
        check("//v1//instances/", &["v1", "instances"]);
        check("/v1/a%20b/%C3%A9", &["v1", "a b", "é"]);
        check(
            "/1/2/3/4/5/6/7/8",
            &["1", "2", "3", "4", "5", "6", "7", "8"],
        );
        check(
            "/1/2/3/4/5/6/7/8/9/10",
            &["1", "2", "3", "4", "5", "6", "7", "8", "9/10"],
        );
        // Up to the limit, the same segments as the general split.
        let path = "/v1/instances/x%2Fy/manage/entities/Customer/entitysize";
        let segs = Segments::of(path);
        assert_eq!(&segs.strs()[..segs.len()], segments(path).as_slice());
    }

    #[test]
    fn a_query_parameter_is_found_in_any_case_and_encoding() {
        assert_eq!(
            query_param(Some("a=1&proxy=true"), "proxy").as_deref(),
            Some("true")
        );
        assert_eq!(
            query_param(Some("PROXY=x+y"), "proxy").as_deref(),
            Some("x y")
        );
        assert_eq!(
            query_param(Some("pro%78y=true"), "proxy").as_deref(),
            Some("true")
        );
        assert_eq!(query_param(Some("$top=100&$skip=500"), "proxy"), None);
        assert_eq!(query_param(Some("proxies=1"), "proxy"), None);
        assert_eq!(query_param(None, "proxy"), None);
    }
}
