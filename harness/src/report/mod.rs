//! Reports of a run: the console, JUnit XML, JSON, the exit code, and expected-failure lists.
//!
//! How a case counts (passed, failed, skipped, non-strict, expected failure, unexpected pass)
//! is decided once, in [`tally`], and every report and the exit code use it.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;
pub mod plot;
mod runs;
pub mod tally;
pub mod timeline;
pub mod xfail;

pub use console::{Console, color_for_stdout, progress_message, shell_word};
pub use html::{html, load_html};
pub use json::{JSON_FORMAT, RunMeta, json};
pub use junit::{JunitError, feature_of, junit};
pub use tally::{Tally, Verdict, exit_code};
pub use timeline::{CallLog, CallRecord};
pub use xfail::{XfailEntry, XfailError, XfailList, load_xfail, parse_xfail, xfail_schema};
