//! Who is calling: the bearer token (one token, one connection) and the optional subscription key.

use super::error::ApiError;
use crate::tenant::spec::AuthSpec;

/// The connection a `/v1` request belongs to: its bearer token.
pub fn connection<'a>(
    auth: &AuthSpec,
    authorization: Option<&'a str>,
    subscription_key: Option<&str>,
) -> Result<&'a str, ApiError> {
    let unauthorized = |message: String| ApiError::new(401, "Unauthorized", message);
    let Some(header) = authorization else {
        return Err(unauthorized(
            "missing Authorization header; send Authorization: Bearer <token> (any non-empty token identifies a connection)".to_owned(),
        ));
    };
    let header = header.trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(unauthorized(format!(
                "malformed Authorization header \"{}\"; use the Bearer scheme: Authorization: Bearer <token>",
                truncate(header, 40)
            )));
        }
    };
    if token.is_empty() {
        return Err(unauthorized(
            "empty bearer token; send Authorization: Bearer <token>".to_owned(),
        ));
    }
    if !auth.tokens.is_empty() && !auth.tokens.iter().any(|t| t == token) {
        return Err(unauthorized(
            "the bearer token is not one of the tenant's configured tokens (auth.tokens)"
                .to_owned(),
        ));
    }
    let key = subscription_key.map(str::trim).filter(|k| !k.is_empty());
    match key {
        None if auth.require_subscription_key => {
            return Err(unauthorized(
                "missing Ocp-Apim-Subscription-Key header; this tenant requires a subscription key"
                    .to_owned(),
            ));
        }
        Some(k)
            if !auth.subscription_keys.is_empty()
                && !auth.subscription_keys.iter().any(|s| s == k) =>
        {
            return Err(unauthorized(
                "the Ocp-Apim-Subscription-Key is not one of the tenant's configured keys"
                    .to_owned(),
            ));
        }
        _ => {}
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
                assert_eq!(e.status, 401);
                assert!(e.message.contains(fragment), "{}", e.message);
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
    fn configured_tokens_and_keys_are_enforced() {
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
            Err("requires a subscription key"),
        );
        check(
            &auth,
            Some("Bearer good"),
            Some("k2"),
            Err("configured keys"),
        );
    }
}
