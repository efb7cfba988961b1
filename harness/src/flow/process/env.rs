//! The environment contract between the harness and a flow process (SPEC 4.1): what the
//! harness sets when it starts a `--flow-cmd` ([`ProcessEnv::to_vars`]), and what
//! `insightsim flow NAME` reads ([`ProcessEnv::from_env`]).

use serde_json::{Value, json};

use crate::scenario::ExpectedSubscription;

/// The variables of the contract.
pub const API_URL: &str = "INSIGHTSIM_API_URL";
pub const INSTANCE_ID: &str = "INSIGHTSIM_INSTANCE_ID";
pub const TOKEN: &str = "INSIGHTSIM_TOKEN";
pub const FLOW_ADDR: &str = "INSIGHTSIM_FLOW_ADDR";
pub const SINK_TEAMS_URL: &str = "INSIGHTSIM_SINK_TEAMS_URL";
pub const SINK_EMAIL_URL: &str = "INSIGHTSIM_SINK_EMAIL_URL";
pub const SINK_HTTP_URL: &str = "INSIGHTSIM_SINK_HTTP_URL";
pub const SUBSCRIPTIONS: &str = "INSIGHTSIM_SUBSCRIPTIONS";

/// What the harness tells a flow process (SPEC 4.1), read from `INSIGHTSIM_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessEnv {
    /// The simulator's base URL, without `/v1` (`http://127.0.0.1:8080`).
    pub api_url: String,
    pub instance_id: String,
    /// The bearer token of the flow's connection.
    pub token: String,
    /// `host:port` to listen on for deliveries (port 0: any free port).
    pub flow_addr: String,
    pub sink_teams_url: String,
    pub sink_email_url: String,
    pub sink_http_url: String,
    /// The subscriptions the scenario asks for; `None`: [`default_subscriptions`].
    pub subscriptions: Option<Vec<ExpectedSubscription>>,
}

/// A variable of the contract that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("{var} is not set; set it to {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

impl ProcessEnv {
    /// Reads the contract from the process environment.
    pub fn from_env() -> Result<ProcessEnv, EnvError> {
        ProcessEnv::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads the contract through `lookup` (a variable's value, `None` when unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ProcessEnv, EnvError> {
        let required = |var: &'static str, hint: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(EnvError::Missing { var, hint })
        };
        let api_url = http_url(
            API_URL,
            required(
                API_URL,
                "the simulator's base URL, e.g. http://127.0.0.1:8080 (the API is under /v1)",
            )?,
        )?;
        let api_url = api_url.strip_suffix("/v1").unwrap_or(&api_url).to_owned();
        let subscriptions = match lookup(SUBSCRIPTIONS).filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| EnvError::Invalid {
                var: SUBSCRIPTIONS,
                value: text.clone(),
                reason: format!(
                    "{e}; give a JSON array like [{{\"trigger\": \"segment-threshold-crossed\", \"inputs\": {{\"segmentName\": \"HighValueCustomers\", \"threshold\": 1000}}}}]"
                ),
            })?),
        };
        Ok(ProcessEnv {
            api_url,
            instance_id: required(
                INSTANCE_ID,
                "the instance id (GET /v1/instances lists them)",
            )?,
            token: required(TOKEN, "the bearer token of the flow's connection")?,
            flow_addr: host_port(
                FLOW_ADDR,
                required(
                    FLOW_ADDR,
                    "the host:port to listen on for deliveries, e.g. 127.0.0.1:7070",
                )?,
            )?,
            sink_teams_url: http_url(
                SINK_TEAMS_URL,
                required(SINK_TEAMS_URL, "the URL to POST Teams messages to")?,
            )?,
            sink_email_url: http_url(
                SINK_EMAIL_URL,
                required(SINK_EMAIL_URL, "the URL to POST e-mails to")?,
            )?,
            sink_http_url: http_url(
                SINK_HTTP_URL,
                required(SINK_HTTP_URL, "the URL of the generic HTTP sink")?,
            )?,
            subscriptions,
        })
    }

    /// The contract as variables, for starting a flow process (`--flow-cmd`).
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            (API_URL, self.api_url.clone()),
            (INSTANCE_ID, self.instance_id.clone()),
            (TOKEN, self.token.clone()),
            (FLOW_ADDR, self.flow_addr.clone()),
            (SINK_TEAMS_URL, self.sink_teams_url.clone()),
            (SINK_EMAIL_URL, self.sink_email_url.clone()),
            (SINK_HTTP_URL, self.sink_http_url.clone()),
        ];
        if let Some(subscriptions) = &self.subscriptions {
            let text = serde_json::to_string(subscriptions).unwrap_or_default();
            vars.push((SUBSCRIPTIONS, text));
        }
        vars
    }
}

/// An `http://` URL (the client speaks plain HTTP to the local simulator and sinks), without a
/// trailing `/`.
fn http_url(var: &'static str, value: String) -> Result<String, EnvError> {
    let invalid = |reason: &str| EnvError::Invalid {
        var,
        value: value.clone(),
        reason: reason.to_owned(),
    };
    let uri: hyper::Uri = value
        .parse()
        .map_err(|_| invalid("not a URL; write e.g. http://127.0.0.1:8080"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(invalid(
            "give an absolute http:// URL (https is not supported for the local simulator and sinks)",
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn host_port(var: &'static str, value: String) -> Result<String, EnvError> {
    let valid = value.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok()
    });
    if valid {
        Ok(value)
    } else {
        Err(EnvError::Invalid {
            var,
            value,
            reason: "give host:port, e.g. 127.0.0.1:7070 (no scheme, no path)".to_owned(),
        })
    }
}

/// One subscription per trigger the flow handles, for a process started without
/// `INSIGHTSIM_SUBSCRIPTIONS`: segment `HighValueCustomers` above 1000, measure `TotalRevenue`
/// above 1,000,000, every data source, and the triggers without inputs.
pub fn default_subscriptions(triggers: &[&str]) -> Vec<ExpectedSubscription> {
    triggers
        .iter()
        .map(|&trigger| {
            let inputs = match trigger {
                "segment-threshold-crossed" => {
                    json!({"segmentName": "HighValueCustomers", "threshold": 1000})
                }
                "measure-threshold-crossed" => {
                    json!({"measureName": "TotalRevenue", "threshold": 1_000_000})
                }
                _ => json!({}),
            };
            ExpectedSubscription {
                trigger: trigger.to_owned(),
                inputs: match inputs {
                    Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(overrides: &[(&str, Option<&str>)]) -> impl Fn(&str) -> Option<String> {
        let mut all: Vec<(String, Option<String>)> = [
            (API_URL, "http://127.0.0.1:8080/"),
            (INSTANCE_ID, "i1"),
            (TOKEN, "t0k"),
            (FLOW_ADDR, "127.0.0.1:7070"),
            (SINK_TEAMS_URL, "http://127.0.0.1:9001/teams/message"),
            (SINK_EMAIL_URL, "http://127.0.0.1:9002/email/send"),
            (SINK_HTTP_URL, "http://127.0.0.1:9003/http"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
        .collect();
        for (k, v) in overrides {
            all.retain(|(name, _)| name != k);
            all.push(((*k).to_owned(), v.map(str::to_owned)));
        }
        move |var| {
            all.iter()
                .find(|(k, _)| k == var)
                .and_then(|(_, v)| v.clone())
        }
    }

    /// Reads the environment with `overrides`; checks the error message, or success.
    fn check(overrides: &[(&str, Option<&str>)], error: Option<&str>) -> Option<ProcessEnv> {
        match (ProcessEnv::from_lookup(vars(overrides)), error) {
            (Ok(env), None) => Some(env),
            (Err(e), Some(expected)) => {
                assert!(e.to_string().starts_with(expected), "{e}");
                None
            }
            (got, expected) => panic!("expected {expected:?}, got {got:?}"),
        }
    }

    #[test]
    fn reads_the_environment_contract() {
        let env = check(&[], None);
        assert_eq!(
            env,
            Some(ProcessEnv {
                api_url: "http://127.0.0.1:8080".to_owned(),
                instance_id: "i1".to_owned(),
                token: "t0k".to_owned(),
                flow_addr: "127.0.0.1:7070".to_owned(),
                sink_teams_url: "http://127.0.0.1:9001/teams/message".to_owned(),
                sink_email_url: "http://127.0.0.1:9002/email/send".to_owned(),
                sink_http_url: "http://127.0.0.1:9003/http".to_owned(),
                subscriptions: None,
            })
        );
        let with_v1 = check(&[(API_URL, Some("http://localhost:8080/v1"))], None);
        assert_eq!(
            with_v1.map(|e| e.api_url).as_deref(),
            Some("http://localhost:8080")
        );
    }

    #[test]
    fn names_a_missing_variable() {
        check(
            &[(TOKEN, None)],
            Some("INSIGHTSIM_TOKEN is not set; set it to"),
        );
        check(
            &[(SINK_EMAIL_URL, Some(" "))],
            Some("INSIGHTSIM_SINK_EMAIL_URL is not set"),
        );
    }

    #[test]
    fn names_an_invalid_variable() {
        check(
            &[(API_URL, Some("https://example.com"))],
            Some(
                "INSIGHTSIM_API_URL=\"https://example.com\" is invalid: give an absolute http:// URL",
            ),
        );
        check(
            &[(FLOW_ADDR, Some("http://127.0.0.1:7070"))],
            Some("INSIGHTSIM_FLOW_ADDR=\"http://127.0.0.1:7070\" is invalid: give host:port"),
        );
        check(
            &[(
                SUBSCRIPTIONS,
                Some("[{\"trigger\": \"segment-threshold-crossed\", \"input\": {}}]"),
            )],
            Some("INSIGHTSIM_SUBSCRIPTIONS=\"[{\\\"trigger\\\""),
        );
    }

    #[test]
    fn reads_subscriptions_and_writes_the_same_variables_back() {
        let text = r#"[{"trigger": "segment-threshold-crossed", "inputs": {"segmentName": "ChurnRisk", "threshold": 50}}]"#;
        let env = check(&[(SUBSCRIPTIONS, Some(text))], None);
        let env = env.unwrap_or_else(|| unreachable!());
        assert_eq!(
            env.subscriptions
                .as_deref()
                .map(|s| s[0].inputs["segmentName"].clone()),
            Some(json!("ChurnRisk"))
        );
        let written = env.to_vars();
        let again = ProcessEnv::from_lookup(|var| {
            written
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(again, Ok(env));
    }

    #[test]
    fn defaults_to_one_subscription_per_trigger() {
        let subs = default_subscriptions(&[
            "segment-threshold-crossed",
            "measure-threshold-crossed",
            "datasource-refresh-failed",
        ]);
        let as_json: Vec<Value> = subs
            .iter()
            .map(|s| json!({"trigger": s.trigger, "inputs": s.inputs}))
            .collect();
        assert_eq!(
            as_json,
            [
                json!({"trigger": "segment-threshold-crossed", "inputs": {"segmentName": "HighValueCustomers", "threshold": 1000}}),
                json!({"trigger": "measure-threshold-crossed", "inputs": {"measureName": "TotalRevenue", "threshold": 1_000_000}}),
                json!({"trigger": "datasource-refresh-failed", "inputs": {}}),
            ]
        );
    }
}
