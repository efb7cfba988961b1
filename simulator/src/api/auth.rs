//! Who is calling: the optional subscription key, checked first (by API Management, the gateway in
//! front of the API), then the bearer token (by the API; one token, one connection).
//!
//! The two refusals have the shapes of the two layers. The gateway answers a missing or unknown
//! key with its own `401` body, `{"statusCode":401,"message":"Access denied due to missing
//! subscription key. …"}`. The API model declares the API's `401` with the header
//! `WWW-Authenticate: Bearer` and no body, so a missing, malformed or unknown bearer token gets
//! no body: what to do goes in the header's `error_description` (RFC 6750).

use super::response::ApiResponse;
use crate::tenant::spec::AuthSpec;

/// Why a `/v1` call was refused before it reached a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// API Management: the `Ocp-Apim-Subscription-Key` is missing (`missing`) or not one of the
    /// tenant's keys.
    Gateway { missing: bool },
    /// The API: no `Authorization` header (`error` is `None`), a malformed one
    /// (`invalid_request`), or a token the tenant does not accept (`invalid_token`).
    Token {
        error: Option<&'static str>,
        description: String,
    },
}

/// APIM's text for a request without a subscription key.
pub const MISSING_KEY: &str = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.";
/// APIM's text for a key that is not valid.
pub const INVALID_KEY: &str = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.";

impl Refusal {
    /// The `401` answer; `base_url` names the gateway's realm.
    pub fn response(&self, base_url: &str) -> ApiResponse {
        match self {
            Refusal::Gateway { missing } => {
                let message = if *missing { MISSING_KEY } else { INVALID_KEY };
                ApiResponse::json_value(
                    401,
                    &serde_json::json!({ "statusCode": 401, "message": message }),
                )
                .with_header(
                    "WWW-Authenticate",
                    format!(
                        "AzureApiManagementKey realm=\"{base_url}/v1\",name=\"Ocp-Apim-Subscription-Key\",type=\"header\""
                    ),
                )
            }
            Refusal::Token { error, description } => {
                let description = description.replace(['"', '\\'], "'");
                let challenge = match error {
                    None => format!("Bearer error_description=\"{description}\""),
                    Some(code) => {
                        format!("Bearer error=\"{code}\", error_description=\"{description}\"")
                    }
                };
                ApiResponse::empty(401).with_header("WWW-Authenticate", challenge)
            }
        }
    }

    /// What went wrong.
    #[cfg(test)]
    fn message(&self) -> &str {
        match self {
            Refusal::Gateway { missing: true } => MISSING_KEY,
            Refusal::Gateway { missing: false } => INVALID_KEY,
            Refusal::Token { description, .. } => description,
        }
    }
}

/// The connection a `/v1` request belongs to: its bearer token.
pub fn connection<'a>(
    auth: &AuthSpec,
    authorization: Option<&'a str>,
    subscription_key: Option<&str>,
) -> Result<&'a str, Refusal> {
    let key = subscription_key.map(str::trim).filter(|k| !k.is_empty());
    match key {
        None if auth.require_subscription_key => {
            return Err(Refusal::Gateway { missing: true });
        }
        Some(k)
            if !auth.subscription_keys.is_empty()
                && !auth.subscription_keys.iter().any(|s| s == k) =>
        {
            return Err(Refusal::Gateway { missing: false });
        }
        _ => {}
    }
    let refuse = |error, description: String| Refusal::Token { error, description };
    let Some(header) = authorization else {
        return Err(refuse(
            None,
            "missing Authorization header; send Authorization: Bearer <token> (any non-empty token identifies a connection)".to_owned(),
        ));
    };
    let header = header.trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(refuse(
                Some("invalid_request"),
                format!(
                    "malformed Authorization header '{}'; use the Bearer scheme: Authorization: Bearer <token>",
                    truncate(header, 40)
                ),
            ));
        }
    };
    if token.is_empty() {
        return Err(refuse(
            Some("invalid_request"),
            "empty bearer token; send Authorization: Bearer <token>".to_owned(),
        ));
    }
    if !auth.tokens.is_empty() && !auth.tokens.iter().any(|t| t == token) {
        return Err(refuse(
            Some("invalid_token"),
            "the bearer token is not one of the tenant's configured tokens (auth.tokens)"
                .to_owned(),
        ));
    }
    Ok(token)
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> AuthSpec {
        AuthSpec::default()
    }

    fn check(
        auth: &AuthSpec,
        header: Option<&str>,
        key: Option<&str>,
        expected: Result<&str, &str>,
    ) {
        match (connection(auth, header, key), expected) {
            (Ok(token), Ok(want)) => assert_eq!(token, want),
            (Err(e), Err(fragment)) => {
                assert!(e.message().contains(fragment), "{}", e.message());
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn any_non_empty_bearer_token_is_a_connection() {
        check(&open(), Some("Bearer abc"), None, Ok("abc"));
        check(&open(), Some("bearer  xyz "), None, Ok("xyz"));
    }

    #[test]
    fn missing_or_malformed_headers_are_rejected_with_the_fix() {
        check(&open(), None, None, Err("missing Authorization"));
        check(
            &open(),
            Some("Basic dXNlcg=="),
            None,
            Err("use the Bearer scheme"),
        );
        check(&open(), Some("Bearer "), None, Err("use the Bearer scheme"));
        check(&open(), Some("Bearer"), None, Err("use the Bearer scheme"));
    }

    #[test]
    fn configured_tokens_and_keys_are_enforced_key_first() {
        let auth = AuthSpec {
            tokens: vec!["good".into()],
            require_subscription_key: true,
            subscription_keys: vec!["k1".into()],
        };
        check(&auth, Some("Bearer good"), Some("k1"), Ok("good"));
        check(&auth, Some("Bearer bad"), Some("k1"), Err("not one of"));
        check(
            &auth,
            Some("Bearer good"),
            None,
            Err("missing subscription key"),
        );
        check(&auth, None, None, Err("missing subscription key"));
        check(
            &auth,
            Some("Bearer good"),
            Some("k2"),
            Err("invalid subscription key"),
        );
    }

    #[test]
    fn the_gateway_answers_its_own_body_and_the_api_none() {
        let gateway = Refusal::Gateway { missing: true }.response("http://h");
        assert_eq!(gateway.status, 401);
        let body: serde_json::Value = serde_json::from_slice(&gateway.bytes()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"statusCode": 401, "message": MISSING_KEY})
        );
        assert_eq!(
            gateway.header("WWW-Authenticate"),
            Some(
                "AzureApiManagementKey realm=\"http://h/v1\",name=\"Ocp-Apim-Subscription-Key\",type=\"header\""
            )
        );
        let Err(refusal) = connection(&open(), Some("Basic \"x\""), None) else {
            panic!("accepted")
        };
        let api = refusal.response("http://h");
        assert_eq!((api.status, api.bytes().len()), (401, 0));
        assert_eq!(
            api.header("WWW-Authenticate"),
            Some(
                "Bearer error=\"invalid_request\", error_description=\"malformed Authorization header 'Basic 'x''; use the Bearer scheme: Authorization: Bearer <token>\""
            )
        );
    }
}
