//! How a flow that is not a reference flow is named in reports and snapshot files, and where
//! its sinks listen.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

use simulator::engine::Trigger;

use crate::replay::{FlowUnderTest, split_command};

/// Where the sinks listen for a flow behind a URL, unless told otherwise: a flow started
/// outside the harness must be configured with fixed sink URLs.
pub const URL_SINKS_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8081));

/// A trigger id that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--triggers: unknown trigger {0}")]
pub struct UnknownTrigger(pub String);

/// A flow run as `command` per case, named `name` or after the command ([`command_name`]).
pub fn command_flow(command: &str, name: Option<String>) -> FlowUnderTest {
    FlowUnderTest::Command {
        command: command.to_owned(),
        name: name.unwrap_or_else(|| command_name(command)),
    }
}

/// A flow behind `url` that handles `triggers` (all six when empty), named `name` or after the
/// URL ([`url_name`]); the simulator serves it at `sim_addr`.
pub fn url_flow(
    url: &str,
    name: Option<String>,
    triggers: &[String],
    sim_addr: SocketAddr,
) -> Result<FlowUnderTest, UnknownTrigger> {
    let triggers = if triggers.is_empty() {
        Trigger::ALL.iter().map(|t| t.id().to_owned()).collect()
    } else {
        if let Some(unknown) = triggers.iter().find(|t| Trigger::parse(t).is_none()) {
            return Err(UnknownTrigger(unknown.clone()));
        }
        triggers.to_vec()
    };
    Ok(FlowUnderTest::Url {
        url: url.to_owned(),
        name: name.unwrap_or_else(|| url_name(url)),
        triggers,
        sim_addr,
    })
}

/// The name of a command flow in reports and snapshot files (`--flow-name` gives another): the
/// reference flow's name for `insightsim flow NAME` (so that it shares the in-process flow's
/// snapshots), else the file name of the script or program it runs, with its folder's name in
/// front when the file name says nothing of the flow (`flow`, `index`, `main`, `app`, ...), so
/// that two projects' `flow.py` do not share snapshots.
///
/// ```
/// use harness::session::command_name;
///
/// assert_eq!(command_name("target/debug/insightsim flow teams-on-refresh-failure"), "teams-on-refresh-failure");
/// assert_eq!(command_name("node --trace-warnings flows/my-flow.js"), "my-flow");
/// assert_eq!(command_name("./my-flow"), "my-flow");
/// assert_eq!(command_name("python3 examples/python/flow.py"), "python-flow");
/// ```
pub fn command_name(command: &str) -> String {
    let words = split_command(command).unwrap_or_default();
    let stem = |w: &str| {
        Path::new(w)
            .file_stem()
            .map_or_else(|| w.to_owned(), |s| s.to_string_lossy().into_owned())
    };
    if let [program, sub, name, ..] = words.as_slice()
        && stem(program) == "insightsim"
        && sub == "flow"
    {
        return name.clone();
    }
    let Some(word) = words
        .iter()
        .skip(1)
        .find(|w| !w.starts_with('-') && (w.contains('.') || w.contains('/')))
        .or(words.first())
    else {
        return "flow".to_owned();
    };
    let name = stem(word);
    let folder = Path::new(word)
        .parent()
        .and_then(Path::file_name)
        .map(|f| f.to_string_lossy().into_owned())
        .filter(|f| !f.is_empty() && f != "." && f != "..");
    match folder {
        Some(folder) if GENERIC_STEMS.contains(&name.as_str()) => format!("{folder}-{name}"),
        _ => name,
    }
}

/// The reference flow (or mutant) a command runs, when it is `insightsim flow NAME`.
///
/// ```
/// use harness::session::reference_flow_of;
///
/// assert_eq!(reference_flow_of("target/debug/insightsim flow teams-on-refresh-failure").as_deref(), Some("teams-on-refresh-failure"));
/// assert_eq!(reference_flow_of("node teams-on-refresh-failure.js"), None);
/// ```
pub fn reference_flow_of(command: &str) -> Option<String> {
    let words = split_command(command).ok()?;
    match words.as_slice() {
        [program, sub, name, ..]
            if sub == "flow"
                && Path::new(program)
                    .file_stem()
                    .is_some_and(|s| s == "insightsim") =>
        {
            Some(name.clone())
        }
        _ => None,
    }
}

/// File names that say nothing of the flow they hold.
const GENERIC_STEMS: &[&str] = &[
    "flow", "flows", "index", "main", "app", "server", "run", "handler", "start", "hook",
];

/// The name of a URL flow in reports and snapshot files (`--flow-name` gives another): its host
/// and path, without the port, so that a flow started on a free port (Node-RED's `run.sh`) keeps
/// its name, and its snapshots, from run to run.
///
/// ```
/// assert_eq!(harness::session::url_name("http://127.0.0.1:7071/api/hook"), "127.0.0.1-api-hook");
/// assert_eq!(harness::session::url_name("http://localhost:43647/"), "localhost");
/// ```
pub fn url_name(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let mut parts = rest.split('/');
    let authority = parts.next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    std::iter::once(host)
        .chain(parts.filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_trigger_is_refused() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let err = url_flow("http://x", None, &["segment-crossed".to_owned()], addr).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--triggers: unknown trigger segment-crossed"
        );
        let Ok(FlowUnderTest::Url { triggers, name, .. }) =
            url_flow("http://x:1/a", None, &[], addr)
        else {
            panic!("a URL flow");
        };
        assert_eq!((triggers.len(), name.as_str()), (6, "x-a"));
    }

    #[test]
    fn a_command_with_an_unclosed_quote_is_named_flow() {
        assert_eq!(command_name("node 'my flow.js"), "flow");
        assert_eq!(command_name(r#"node "my flows/a b.js""#), "a b");
    }
}
