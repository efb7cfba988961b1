//! A flow run as a command (`--flow-cmd`): started with the `INSIGHTSIM_*` environment of
//! SPEC 4.1, its standard error kept for the report, stopped at the end of the case.

use std::io;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use simulator::Simulator;
use tokio::io::AsyncReadExt;

use super::FLOW_TOKEN;
use super::sinks::Sinks;
use crate::flow::process::ProcessEnv;
use crate::scenario::{ExpectedSubscription, SinkKind};

/// How much of a flow's standard error is kept: enough for a report, bounded for a chatty flow.
const STDERR_BYTES_MAX: usize = 64 * 1024;

/// How long a stopped flow gets to exit before it is left to `kill_on_drop`.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Why a flow command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("--flow-cmd is empty")]
    Empty,
    #[error(
        "--flow-cmd `{command}` has an unclosed quote or ends in a backslash; quote it as a POSIX shell would"
    )]
    Unbalanced { command: String },
    #[error("cannot find a free loopback port for the flow to listen on")]
    FreePort(#[source] io::Error),
    #[error("cannot start the flow command `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
}

/// Splits a command line into words as a POSIX shell does (quotes group, backslashes escape);
/// no expansion, no redirection.
pub fn split_command(command: &str) -> Result<Vec<String>, CommandError> {
    let words = shlex::split(command).ok_or_else(|| CommandError::Unbalanced {
        command: command.to_owned(),
    })?;
    if words.is_empty() {
        return Err(CommandError::Empty);
    }
    Ok(words)
}

/// A flow command running for one case (or for trigger discovery).
#[derive(Debug)]
pub(super) struct FlowProcess {
    child: tokio::process::Child,
    stderr: Arc<Mutex<String>>,
}

impl FlowProcess {
    /// Starts `command` against the simulator served at `api_url`, asking for `requested`
    /// subscriptions, with the sinks' URLs and a free port to listen on for deliveries.
    pub(super) fn start(
        command: &str,
        sim: &Simulator,
        api_url: &str,
        sinks: &Sinks,
        requested: &[ExpectedSubscription],
    ) -> Result<FlowProcess, CommandError> {
        let flow_addr = free_port().map_err(CommandError::FreePort)?;
        let env = ProcessEnv {
            api_url: api_url.to_owned(),
            instance_id: sim.instance_id.clone(),
            token: FLOW_TOKEN.to_owned(),
            flow_addr: flow_addr.to_string(),
            sink_teams_url: sinks.url(SinkKind::Teams),
            sink_email_url: sinks.url(SinkKind::Email),
            sink_http_url: sinks.url(SinkKind::Http),
            subscriptions: Some(requested.to_vec()),
        };
        let words = split_command(command)?;
        let (program, args) = words.split_first().ok_or(CommandError::Empty)?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .envs(env.to_vars())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| CommandError::Spawn {
                command: command.to_owned(),
                source,
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let tail = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    keep_tail(&mut tail.lock(), &buf[..n]);
                }
            });
        }
        Ok(FlowProcess { child, stderr })
    }

    /// What the flow wrote to its standard error so far (the last 64 KiB).
    pub(super) fn stderr(&self) -> String {
        self.stderr.lock().clone()
    }

    /// How the flow exited, if it has.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills the flow and waits (briefly) for it to exit.
    pub(super) async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
    }
}

/// Appends `bytes` to `text` and drops the oldest characters beyond [`STDERR_BYTES_MAX`].
fn keep_tail(text: &mut String, bytes: &[u8]) {
    text.push_str(&String::from_utf8_lossy(bytes));
    if text.len() > STDERR_BYTES_MAX {
        let cut = text.len() - STDERR_BYTES_MAX;
        let cut = (cut..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.drain(..cut);
    }
}

/// A free loopback port (bound and released; the flow binds it right after).
fn free_port() -> io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &str, expected: &[&str]) {
        assert_eq!(split_command(command).unwrap(), expected, "{command}");
    }

    #[test]
    fn splits_command_lines_like_a_shell() {
        check("insightsim flow export", &["insightsim", "flow", "export"]);
        check(
            r#"node "my flow.js" --x='a b'"#,
            &["node", "my flow.js", "--x=a b"],
        );
        check("  a\\ b  c ", &["a b", "c"]);
        check(
            r#"python3 "/opt/flows/my flow.py" --name "it's""#,
            &["python3", "/opt/flows/my flow.py", "--name", "it's"],
        );
    }

    #[test]
    fn refuses_an_empty_or_unbalanced_command() {
        assert_eq!(
            split_command("   ").unwrap_err().to_string(),
            "--flow-cmd is empty"
        );
        assert_eq!(
            split_command("node 'my flow.js").unwrap_err().to_string(),
            "--flow-cmd `node 'my flow.js` has an unclosed quote or ends in a backslash; quote it as a POSIX shell would"
        );
    }

    #[test]
    fn keeps_the_last_64_kib_of_stderr_on_a_character_boundary() {
        let mut text = String::new();
        keep_tail(&mut text, "é".repeat(STDERR_BYTES_MAX).as_bytes());
        keep_tail(&mut text, b"end");
        assert!(text.len() <= STDERR_BYTES_MAX, "{}", text.len());
        assert!(text.ends_with("end"));
        assert!(text.starts_with('é'));
    }
}
