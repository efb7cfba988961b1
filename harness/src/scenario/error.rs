//! Why a scenario file was rejected: the file, the line, the key and what to do.

use std::fmt;
use std::path::PathBuf;

use simulator::SimDuration;

use super::key::KeyPath;

/// A rejected scenario file. `Display` reads
/// `scenarios/segment/x.toml:14: steps[2].evaluate_segment: unknown field "entity_cont", ...`;
/// the line and the key are left out when they are not known (an unreadable file, a duplicate
/// id).
#[derive(Debug)]
pub struct ScenarioError {
    /// The file (or directory) as the caller named it.
    pub path: PathBuf,
    /// 1-based line of the offending key or token.
    pub line: Option<usize>,
    /// The dotted path to the offending key (`steps[2].evaluate_segment.entity_count`,
    /// `expect.sinks[0].json."/subject"`).
    pub key: Option<String>,
    pub kind: ErrorKind,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Read { error } => Some(error),
            _ => None,
        }
    }
}

/// A failed check of a scenario: the key at fault and what is wrong (`parse` turns it into a
/// [`ScenarioError`] with the line of the key).
pub(crate) type Failure = (KeyPath, ErrorKind);
pub(crate) type Check = Result<(), Failure>;

/// What is wrong. Messages are lower-case fragments that say what to do instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file or directory could not be read. The I/O error is also the `source` of the
    /// [`ScenarioError`]; it is printed here as well because most callers print one line.
    #[error("cannot read it: {error}")]
    Read { error: std::io::Error },
    #[error("no such file or directory; give scenario files or directories of them")]
    NotFound,
    #[error("not a scenario file; scenario files end in .toml")]
    NotToml,
    /// The text is not TOML.
    #[error("invalid TOML: {0}")]
    Syntax(String),
    /// The TOML does not have the shape of a scenario (unknown key, wrong type, missing key),
    /// in serde's words with the names quoted.
    #[error("{0}")]
    Shape(String),
    #[error("format = {0} is not supported; this version of insightsim reads format = 1")]
    Format(i64),
    #[error(
        "id \"{0}\" is not valid; use lower-case letters, digits, '-', '_' and '/', e.g. \"segment/fires-once\""
    )]
    IdSyntax(String),
    #[error(
        "id \"{id}\" does not match the file's path; write id = \"{expected}\" (the path below the suite directory, without .toml) or rename the file"
    )]
    IdMismatch { id: String, expected: String },
    #[error(
        "id \"{id}\" does not match the end of the file's path; outside the suite directory a file's path must end with its id and .toml, e.g. .../{id}.toml"
    )]
    IdNotSuffix { id: String },
    #[error("id \"{id}\" is already the id of {}; give each scenario its own id", other.display())]
    DuplicateId { id: String, other: PathBuf },
    #[error(
        "the requirement must say MUST or SHOULD, in capitals, e.g. \"A flow MUST post once per failed refresh\""
    )]
    Requirement,
    #[error("a step takes at most one action, found {0}; split it into steps with the same `at`")]
    SeveralActions(String),
    #[error(
        "at = \"{at}\" is before the previous step's at = \"{previous}\"; steps must be in time order"
    )]
    TimeGoesBack {
        at: SimDuration,
        previous: SimDuration,
    },
    #[error("unknown trigger \"{0}\"; use one of {ids}", ids = simulator::engine::Trigger::ids())]
    UnknownTrigger(String),
    /// The tenant overrides, read over the demo tenant, are not a valid tenant.
    #[error("{0}")]
    Tenant(String),
    #[error("unknown {what} \"{name}\"; use one of {valid}")]
    UnknownName {
        what: NameKind,
        name: String,
        valid: String,
    },
    #[error(
        "measure \"{name}\" has a dimension, so it has no single value; use a measure without one: {valid}"
    )]
    MeasureWithDimension { name: String, valid: String },
    /// A subscription's trigger inputs are missing, unknown or of the wrong type.
    #[error("{0}")]
    Input(String),
    #[error("{0} is not a finite number; give a number such as 1000")]
    NotFinite(f64),
    #[error("count excludes min and max; give either count or min and/or max")]
    CountWithBounds,
    #[error("min = {min} is greater than max = {max}; swap them")]
    MinAboveMax { min: u64, max: u64 },
    #[error(
        "\"{0}\" is not a JSON pointer; start it with '/', e.g. \"/subject\" or \"/items/0/id\""
    )]
    JsonPointer(String),
    #[error("unknown entity \"{name}\"; use one of {valid}")]
    UnknownEntity { name: String, valid: String },
    #[error("{name} is computed by Customer Insights and cannot be written; use one of {valid}")]
    ReadOnlyEntity { name: String, valid: String },
    #[error(
        "unknown stage \"{0}\"; the stages that can be forced are map, match, merge and export"
    )]
    UnknownStage(String),
    #[error("events are numbered from 1 in the order they occurred; write event = 1 for the first")]
    EventIndex,
    /// Faults the simulator would refuse (a status that is not HTTP, a probability above 1, ...).
    #[error("{0}")]
    Faults(String),
    /// A job the jobs API would refuse (an unknown `operationType`).
    #[error("{0}")]
    Job(String),
}

/// What kind of name was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    DataSource,
    Segment,
    Measure,
    SegmentOrMeasure,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::DataSource => "data source",
            NameKind::Segment => "segment",
            NameKind::Measure => "measure",
            NameKind::SegmentOrMeasure => "segment or measure",
        })
    }
}

/// Names as error messages list them: `"A", "B" and "C"`.
pub(crate) fn list<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|n| format!("\"{}\"", n.as_ref()))
        .collect();
    match quoted.as_slice() {
        [] => "(none)".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// serde's message with names in double quotes, as the rest of insightsim writes them
/// (serde writes `` unknown field `x` ``).
pub(crate) fn serde_message(message: &str) -> String {
    message.trim_end_matches('\n').replace('`', "\"")
}

/// Why a partition (`--partition K/N`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// The text is not a valid `K/N`.
    #[error("invalid partition \"{text}\": {problem}; write K/N with 1 <= K <= N, e.g. 2/4")]
    Text {
        text: String,
        problem: PartitionProblem,
    },
    /// `K` and `N` do not name a partition.
    #[error("invalid partition {k}/{n}: {problem}")]
    Numbers {
        k: usize,
        n: usize,
        problem: PartitionProblem,
    },
}

/// What is wrong with a partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionProblem {
    #[error("there is no '/'")]
    NoSlash,
    #[error("\"{0}\" is not a whole number")]
    NotANumber(String),
    #[error("there must be at least one partition")]
    NoPartitions,
    #[error("partitions are numbered from 1")]
    NumberedFromOne,
    #[error("there are only {0} partitions")]
    OnlySome(usize),
}
