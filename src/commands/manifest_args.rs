//! The flags of `run` that say what the flow under test is for (its manifest), and what a run
//! that mostly skipped does.

use std::path::PathBuf;

use clap::Args;
use harness::manifest::{Manifest, ManifestFlags};

/// What the flow is for: a manifest file, or flags that make one.
#[derive(Debug, Clone, Default, Args)]
pub struct ManifestArgs {
    /// The flow's manifest (TOML, e.g. insightsim-flow.toml beside the flow): the triggers it
    /// handles, where its effect goes, what the effect must carry (see `insightsim schema
    /// manifest`).
    #[arg(long, env = "INSIGHTSIM_MANIFEST", conflicts_with_all = ["handles", "effect", "echo", "exports"])]
    pub manifest: Option<PathBuf>,
    /// A trigger the flow handles (repeatable or comma-separated): its cases run, and fail when
    /// the flow does not subscribe to it. Needs --effect.
    #[arg(long, env = "INSIGHTSIM_HANDLES", value_delimiter = ',')]
    pub handles: Vec<String>,
    /// Where the flow's effect goes: teams, email or http.
    #[arg(long, env = "INSIGHTSIM_EFFECT")]
    pub effect: Option<String>,
    /// A payload field every effect must carry from its event (repeatable or comma-separated:
    /// dataSourceName, entityCount, value, ...).
    #[arg(long, env = "INSIGHTSIM_ECHO", value_delimiter = ',')]
    pub echo: Vec<String>,
    /// The entity the flow exports downstream (its cases about exports then run).
    #[arg(long, env = "INSIGHTSIM_EXPORTS")]
    pub exports: Option<String>,
    /// Exit 0 even when most cases were skipped (by default such a run fails: a flow wired to
    /// the wrong trigger skips nearly everything).
    #[arg(long, env = "INSIGHTSIM_ALLOW_SKIPS")]
    pub allow_skips: bool,
}

impl ManifestArgs {
    /// The manifest the flags give, if any.
    pub fn load(&self) -> anyhow::Result<Option<Manifest>> {
        if let Some(path) = &self.manifest {
            return Ok(Some(Manifest::load(path)?));
        }
        Ok(Manifest::from_flags(&ManifestFlags {
            handles: self.handles.clone(),
            effect: self.effect.clone(),
            echo: self.echo.clone(),
            exports: self.exports.clone(),
        })?)
    }
}

/// A warning that must not be missed, framed.
pub fn loud(warning: &str) -> String {
    let rule = "=".repeat(78);
    format!("{rule}\nWARNING: {warning}\n{rule}")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        manifest: ManifestArgs,
    }

    fn check(args: &[&str], expected: Result<Option<Vec<&str>>, &str>) {
        let parsed = Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied()));
        let got = parsed
            .map_err(|e| e.to_string())
            .and_then(|cli| cli.manifest.load().map_err(|e| format!("{e:#}")))
            .map(|m| {
                m.map(|m| {
                    m.triggers()
                        .into_iter()
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
            });
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(
                got,
                want.map(|w| w.into_iter().map(str::to_owned).collect())
            ),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got}"),
            (got, want) => panic!("{got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn flags_or_a_file_say_what_the_flow_is_for() {
        check(&[], Ok(None));
        check(
            &["--handles", "unification-completed", "--effect", "http"],
            Ok(Some(vec!["unification-completed"])),
        );
        check(
            &["--handles", "unification-completed"],
            Err("--handles needs --effect"),
        );
        check(
            &["--manifest", "m.toml", "--handles", "unification-completed"],
            Err("cannot be used with"),
        );
        check(
            &["--manifest", "/no/such/insightsim-flow.toml"],
            Err("cannot read the manifest /no/such/insightsim-flow.toml"),
        );
        let path =
            std::env::temp_dir().join(format!("insightsim-flow-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[[handles]]\ntrigger = \"full-refresh-completed\"\neffect = \"http\"\nexports = \"Customer\"\n",
        )
        .unwrap();
        check(
            &["--manifest", path.to_str().unwrap()],
            Ok(Some(vec!["full-refresh-completed"])),
        );
        let _ = std::fs::remove_file(&path);
    }
}
