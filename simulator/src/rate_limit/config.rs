//! The call-limit setting: how many calls per window, which window algorithm, whether throttled
//! calls count; its text form (`100/60s`, `10/2s,fixed`, `off`) and its serde shape.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::SimDuration;

/// How the limiter decides which earlier calls count against a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// A call counts for exactly `window` after it was made: every half-open interval
    /// `[a, a + window)` holds at most `calls_max` admitted calls. The default, and what APIM's
    /// `rate-limit` policy documents ("the length in seconds of the sliding window").
    #[default]
    Sliding,
    /// Back-to-back windows of length `window` anchored at the connection's first call, with
    /// `calls_max` calls each. Admits up to twice the limit across a window boundary.
    Fixed,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sliding => "sliding",
            Algorithm::Fixed => "fixed",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call limit that is on: `calls_max` calls per `window` on each connection.
///
/// The fields are public for convenience; [`crate::rate_limit::Limiter::new`] treats a
/// `calls_max` of 0 as 1 and a window shorter than 1 ms as 1 ms, which [`RateLimit::parse`] never
/// produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub calls_max: u32,
    pub window: SimDuration,
    pub algorithm: Algorithm,
    /// Whether throttled calls count against the window too (they then push the next admission
    /// further out). Off by default: the connector page speaks of "calls", and a client waiting
    /// out a `Retry-After` should not be punished for the 429 it was just given.
    pub throttled_consume: bool,
}

impl RateLimit {
    /// The connector's documented limit: 100 calls per connection per 60 seconds.
    pub const CONNECTOR: RateLimit = RateLimit {
        calls_max: 100,
        window: SimDuration::from_secs(60),
        algorithm: Algorithm::Sliding,
        throttled_consume: false,
    };

    /// Parses `CALLS/WINDOW[,OPTION]...`: `100/60s`, `10/2s`, `5/500ms`, `100/1m`,
    /// `100/60s,fixed`, `100/60s,throttled-consume`. The window takes every unit of
    /// [`SimDuration::parse`]; the options are `sliding` (the default), `fixed` and
    /// `throttled-consume`, in any order. `off` is a [`RateLimitSetting`], not a `RateLimit`.
    pub fn parse(text: &str) -> Result<RateLimit, RateLimitParseError> {
        let err = |reason: String| RateLimitParseError {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err("it is empty".to_owned()));
        }
        let mut parts = trimmed.split(',');
        let head = parts.next().unwrap_or_default();
        let Some((calls, window)) = head.split_once('/') else {
            return Err(err(
                "the \"/\" between the number of calls and the window is missing".to_owned(),
            ));
        };
        let calls = calls.trim();
        let calls_max: u32 = calls.parse().map_err(|_| {
            err(format!(
                "the number of calls \"{calls}\" is not a whole number up to {}",
                u32::MAX
            ))
        })?;
        if calls_max == 0 {
            return Err(err(
                "the number of calls must be at least 1 (write off to disable the limit)"
                    .to_owned(),
            ));
        }
        let window_text = window.trim();
        let window = SimDuration::parse(window_text)
            .map_err(|e| err(format!("window \"{window_text}\": {}", e.reason)))?;
        if window.as_millis() <= 0 {
            return Err(err("the window must be longer than 0".to_owned()));
        }
        let mut limit = RateLimit {
            calls_max,
            window,
            ..RateLimit::CONNECTOR
        };
        let mut algorithm_given: Option<Algorithm> = None;
        for option in parts {
            let option = option.trim();
            let algorithm = match option.to_ascii_lowercase().as_str() {
                "sliding" => Algorithm::Sliding,
                "fixed" => Algorithm::Fixed,
                "throttled-consume" => {
                    limit.throttled_consume = true;
                    continue;
                }
                _ => return Err(err(format!("unknown option \"{option}\""))),
            };
            if let Some(earlier) = algorithm_given
                && earlier != algorithm
            {
                return Err(err(format!(
                    "both \"{earlier}\" and \"{algorithm}\" are given; pick one window algorithm"
                )));
            }
            algorithm_given = Some(algorithm);
            limit.algorithm = algorithm;
        }
        Ok(limit)
    }
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit::CONNECTOR
    }
}

impl fmt::Display for RateLimit {
    /// The form [`RateLimit::parse`] reads back: the window in whole seconds when it is a whole
    /// number of seconds (`100/60s`, not `100/1m`, to match the connector page), milliseconds
    /// otherwise; options only when they differ from the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window_ms = self.window.as_millis();
        if window_ms % 1000 == 0 {
            write!(f, "{}/{}s", self.calls_max, window_ms / 1000)?;
        } else {
            write!(f, "{}/{}ms", self.calls_max, window_ms)?;
        }
        if self.algorithm != Algorithm::Sliding {
            write!(f, ",{}", self.algorithm)?;
        }
        if self.throttled_consume {
            f.write_str(",throttled-consume")?;
        }
        Ok(())
    }
}

impl FromStr for RateLimit {
    type Err = RateLimitParseError;
    fn from_str(text: &str) -> Result<RateLimit, RateLimitParseError> {
        RateLimit::parse(text)
    }
}

/// The call limit of a simulator: on with a [`RateLimit`], or off (every call admitted, and still
/// recorded for grading). What `--rate-limit` and the tenant file's `rate_limit` hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitSetting {
    Off,
    On(RateLimit),
}

impl RateLimitSetting {
    /// Parses `off` (any case) or a [`RateLimit`] text.
    pub fn parse(text: &str) -> Result<RateLimitSetting, RateLimitParseError> {
        if text.trim().eq_ignore_ascii_case("off") {
            Ok(RateLimitSetting::Off)
        } else {
            RateLimit::parse(text).map(RateLimitSetting::On)
        }
    }

    pub fn limit(self) -> Option<RateLimit> {
        match self {
            RateLimitSetting::Off => None,
            RateLimitSetting::On(limit) => Some(limit),
        }
    }

    /// The same setting with another window algorithm (for a tenant file that gives
    /// `algorithm = "fixed"` next to `rate_limit = "100/60s"`); `Off` stays off.
    pub fn with_algorithm(self, algorithm: Algorithm) -> RateLimitSetting {
        match self {
            RateLimitSetting::Off => RateLimitSetting::Off,
            RateLimitSetting::On(limit) => RateLimitSetting::On(RateLimit { algorithm, ..limit }),
        }
    }
}

impl Default for RateLimitSetting {
    fn default() -> RateLimitSetting {
        RateLimitSetting::On(RateLimit::CONNECTOR)
    }
}

impl fmt::Display for RateLimitSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitSetting::Off => f.write_str("off"),
            RateLimitSetting::On(limit) => limit.fmt(f),
        }
    }
}

impl FromStr for RateLimitSetting {
    type Err = RateLimitParseError;
    fn from_str(text: &str) -> Result<RateLimitSetting, RateLimitParseError> {
        RateLimitSetting::parse(text)
    }
}

/// Why a rate-limit text was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rate limit \"{text}\": {reason}; write CALLS/WINDOW with optional \",fixed\" or \",throttled-consume\", e.g. 100/60s, 10/2s, 5/500ms, 100/60s,fixed, or off"
)]
pub struct RateLimitParseError {
    pub text: String,
    pub reason: String,
}

/// Serialized as its text form, always (`"100/60s"`, `"off"`, `"10/2s,fixed"`).
impl Serialize for RateLimitSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for RateLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The table form of a rate limit in a tenant file, for those who prefer keys to a text:
/// `rate_limit = { calls = 100, window = "60s", algorithm = "fixed", throttled_consume = true }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitTable {
    calls: u32,
    window: String,
    #[serde(default)]
    algorithm: Algorithm,
    #[serde(default)]
    throttled_consume: bool,
}

impl RateLimitTable {
    fn into_limit<E: de::Error>(self) -> Result<RateLimit, E> {
        let text = format!("{}/{}", self.calls, self.window);
        let mut limit = RateLimit::parse(&text).map_err(E::custom)?;
        limit.algorithm = self.algorithm;
        limit.throttled_consume = self.throttled_consume;
        Ok(limit)
    }
}

/// Reads a text (`"100/60s"`, `"off"`, `"100/60s,fixed"`) or the table form of
/// [`RateLimitTable`].
struct SettingVisitor;

impl<'de> Visitor<'de> for SettingVisitor {
    type Value = RateLimitSetting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rate limit such as \"100/60s\", \"10/2s,fixed\" or \"off\", or a table with calls and window")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RateLimitSetting, E> {
        RateLimitSetting::parse(text).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RateLimitSetting, A::Error> {
        let table = RateLimitTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
        table.into_limit().map(RateLimitSetting::On)
    }
}

impl<'de> Deserialize<'de> for RateLimitSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RateLimitSetting, D::Error> {
        deserializer.deserialize_any(SettingVisitor)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RateLimit, D::Error> {
        match deserializer.deserialize_any(SettingVisitor)? {
            RateLimitSetting::On(limit) => Ok(limit),
            RateLimitSetting::Off => Err(de::Error::custom(
                "a rate limit is required here; off is not accepted",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, &str>) {
        match (RateLimitSetting::parse(text), expected) {
            (Ok(setting), Ok(display)) => {
                assert_eq!(setting.to_string(), display, "{text}");
                assert_eq!(RateLimitSetting::parse(display), Ok(setting), "{text}");
            }
            (Err(err), Err(reason)) => {
                let message = err.to_string();
                assert!(message.contains(reason), "{text}: {message}");
                assert!(message.contains("e.g. 100/60s, 10/2s"), "{message}");
            }
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_and_displays_the_accepted_forms() {
        check("100/60s", Ok("100/60s"));
        check("10/2s", Ok("10/2s"));
        check("5/500ms", Ok("5/500ms"));
        check(" 100 / 1m ", Ok("100/60s"));
        check("7/1.5s", Ok("7/1500ms"));
        check("100/60s,fixed", Ok("100/60s,fixed"));
        check("100/60s,sliding", Ok("100/60s"));
        check(
            "100/60s,throttled-consume,FIXED",
            Ok("100/60s,fixed,throttled-consume"),
        );
        check("off", Ok("off"));
        check("OFF", Ok("off"));
    }

    #[test]
    fn rejects_malformed_limits_with_the_accepted_forms() {
        check("", Err("it is empty"));
        check("100", Err("\"/\""));
        check("0/60s", Err("at least 1"));
        check("-1/60s", Err("whole number"));
        check("x/60s", Err("whole number"));
        check("100/60", Err("a unit is missing"));
        check("100/0", Err("longer than 0"));
        check("100/60s,leaky", Err("unknown option \"leaky\""));
        check("100/60s,fixed,sliding", Err("pick one"));
    }

    #[test]
    fn the_default_is_the_connector_limit() {
        let default = RateLimitSetting::default();
        assert_eq!(default.to_string(), "100/60s");
        assert_eq!(default.limit(), Some(RateLimit::CONNECTOR));
        assert_eq!(RateLimit::default().algorithm, Algorithm::Sliding);
        assert!(!RateLimit::default().throttled_consume);
    }

    #[derive(Debug, Deserialize, Serialize)]
    struct Tenant {
        rate_limit: RateLimitSetting,
        #[serde(default)]
        algorithm: Option<Algorithm>,
    }

    #[test]
    fn a_tenant_file_holds_the_text_or_the_table_form() {
        let tenant: Tenant =
            toml::from_str("rate_limit = \"10/2s\"\nalgorithm = \"fixed\"").unwrap();
        let setting = tenant.rate_limit.with_algorithm(tenant.algorithm.unwrap());
        assert_eq!(setting.to_string(), "10/2s,fixed");

        let tenant: Tenant = toml::from_str("rate_limit = \"off\"").unwrap();
        assert_eq!(tenant.rate_limit, RateLimitSetting::Off);

        let tenant: Tenant =
            toml::from_str("[rate_limit]\ncalls = 5\nwindow = \"500ms\"\nthrottled_consume = true")
                .unwrap();
        assert_eq!(tenant.rate_limit.to_string(), "5/500ms,throttled-consume");
        assert_eq!(
            toml::to_string(&tenant).unwrap(),
            "rate_limit = \"5/500ms,throttled-consume\"\n"
        );
    }

    #[test]
    fn a_tenant_file_with_a_bad_limit_says_what_to_write() {
        let err = toml::from_str::<Tenant>("rate_limit = \"100 per minute\"").unwrap_err();
        assert!(err.to_string().contains("e.g. 100/60s"), "{err}");
        let err = toml::from_str::<Tenant>("[rate_limit]\ncalls = 5\nwindw = \"1s\"").unwrap_err();
        assert!(err.to_string().contains("unknown field `windw`"), "{err}");
    }
}
