//! What `insightsim run` shows while it works: the progress bar on a terminal, and the lines
//! that report a flow's real-time wait for a `Retry-After`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::replay::{RealTimeWait, WaitObserver};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on a terminal; off one, nothing (lines are printed instead).
pub(super) fn progress(total: usize, terminal: bool) -> ProgressBar {
    if !terminal {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// How often a real-time wait is reported when standard error is not a terminal.
const WAIT_LINE_EVERY: Duration = Duration::from_secs(5);

/// Reports a flow's real-time wait for a `Retry-After`: in the bar's message on a terminal,
/// as a line every few seconds off one (a CI log).
pub(super) fn wait_reporter(bar: ProgressBar, terminal: bool) -> WaitObserver {
    let last = Mutex::new(None::<Instant>);
    WaitObserver(Arc::new(move |wait: &RealTimeWait| {
        let text = format!(
            "{}: waiting out the flow's Retry-After in real time, {} elapsed, {} left",
            wait.case,
            elapsed(wait.waited),
            elapsed(wait.remaining)
        );
        if terminal {
            bar.set_message(text);
            return;
        }
        let Ok(mut last) = last.lock() else {
            return;
        };
        if last.is_none_or(|t| t.elapsed() >= WAIT_LINE_EVERY) {
            *last = Some(Instant::now());
            eprintln!("{text}");
        }
    }))
}

fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
