//! Reading flow definitions in every format they are exported in, detected by content:
//!
//! - a Power Automate export package (`.zip` with `Microsoft.Flow/flows/<id>/definition.json`);
//! - a solution export (`.zip` with `Workflows/*.json`), one flow per workflow;
//! - a flow's JSON (`{"properties": {"definition", "connectionReferences"}}`) or a bare
//!   definition (`{"triggers", "actions"}`);
//! - a Logic Apps Standard `workflow.json` (`{"definition", "kind"}`), with the
//!   `connections.json` beside it or in the folder above;
//! - a Logic Apps Consumption ARM template (`Microsoft.Logic/workflows` resources).

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use crate::check::Problem;
use crate::model::{Connections, Definition, JsonPath, parse_definition};
use crate::operations::{Connector, OperationMap};

/// The format a flow came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    PowerAutomatePackage,
    Solution,
    FlowJson,
    BareDefinition,
    LogicAppsStandard,
    ArmTemplate,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::PowerAutomatePackage => "Power Automate export package",
            Format::Solution => "solution export",
            Format::FlowJson => "Power Automate flow JSON",
            Format::BareDefinition => "workflow definition",
            Format::LogicAppsStandard => "Logic Apps Standard workflow",
            Format::ArmTemplate => "Logic Apps ARM template",
        })
    }
}

impl Format {
    /// How many iterations of a `Foreach` ("Apply to each") run at once when the loop does not
    /// say. The platforms differ: Power Automate's limits page gives 1 ("Apply to each
    /// concurrency: 1 is the default limit"), Logic Apps' gives 20 ("Foreach concurrency: 20 is
    /// the default limit when the concurrency control is turned off"). A bare definition is taken
    /// as Logic Apps' (its code view is where one is usually copied from).
    pub fn foreach_default(self) -> u32 {
        match self {
            Format::PowerAutomatePackage | Format::Solution | Format::FlowJson => 1,
            Format::BareDefinition | Format::LogicAppsStandard | Format::ArmTemplate => 20,
        }
    }
}

/// One flow read from a file.
#[derive(Debug, Clone)]
pub struct LoadedFlow {
    /// Its display name (or its file's name).
    pub name: String,
    /// Where it was read: `file` or `file!inner/path.json`.
    pub source: String,
    pub format: Format,
    pub definition: Definition,
    /// Connection references and their connectors.
    pub connections: Connections,
    /// Values given to the definition's parameters outside it (an ARM template's `parameters`).
    pub parameter_values: Map<String, Value>,
    /// Constructs insightsim cannot run (empty when the flow can run).
    pub problems: Vec<Problem>,
}

impl LoadedFlow {
    /// Whether it can run.
    pub fn is_runnable(&self) -> bool {
        self.problems.is_empty() && self.definition.trigger.is_some()
    }
}

/// Why a file cannot be read as flow definitions at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a zip archive the loader can read ({message})")]
    Zip { path: String, message: String },
    #[error("{path}: not valid JSON at line {line}, column {column}: {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: not a flow definition; expected a Power Automate or solution .zip export, a flow JSON with properties.definition, a definition with triggers and actions, a Logic Apps Standard workflow.json or an ARM template with Microsoft.Logic/workflows"
    )]
    NotAFlow { path: String },
    #[error("{path}: {what} holds no flow definition (its files: {files})")]
    EmptyPackage {
        path: String,
        what: &'static str,
        files: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Loads every flow in `path` with the built-in operation map.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/definitions");
/// let flows = flowdef::load(&dir.join("teams-on-refresh-failure.json")).unwrap();
/// assert_eq!(flows[0].definition.trigger.as_ref().unwrap().trigger_id, "datasource-refresh-failed");
/// ```
pub fn load(path: &Path) -> Result<Vec<LoadedFlow>, LoadError> {
    load_with(path, &OperationMap::built_in())
}

/// Loads every flow in `path`, resolving operations with `map`.
pub fn load_with(path: &Path, map: &OperationMap) -> Result<Vec<LoadedFlow>, LoadError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    let beside = |name: &str| -> Option<Vec<u8>> {
        let dir = path.parent()?;
        [dir.join(name), dir.parent()?.join(name)]
            .into_iter()
            .find_map(|p| std::fs::read(p).ok())
    };
    load_bytes(&bytes, &shown, map, &beside)
}

/// Loads every flow in `bytes` (read from `shown`); `beside` reads a file next to it (the
/// `connections.json` of a Logic Apps Standard workflow).
pub fn load_bytes(
    bytes: &[u8],
    shown: &str,
    map: &OperationMap,
    beside: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Vec<LoadedFlow>, LoadError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return load_zip(bytes, shown, map);
    }
    let v = parse_json(bytes, shown)?;
    let name = file_stem(shown);
    load_json(&v, shown, &name, map, beside)
}

fn parse_json(bytes: &[u8], shown: &str) -> Result<Value, LoadError> {
    // Exports are UTF-8, some with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| LoadError::Json {
        path: shown.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

fn file_stem(shown: &str) -> String {
    let last = shown.rsplit(['/', '\\', '!']).next().unwrap_or(shown);
    last.strip_suffix(".json").unwrap_or(last).to_owned()
}

fn load_json(
    v: &Value,
    shown: &str,
    name: &str,
    map: &OperationMap,
    beside: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Vec<LoadedFlow>, LoadError> {
    let Some(o) = v.as_object() else {
        return Err(LoadError::NotAFlow {
            path: shown.to_owned(),
        });
    };
    let root = JsonPath::root();
    // An ARM template.
    if let Some(resources) = o.get("resources").and_then(Value::as_array) {
        return load_arm(o, resources, shown, map);
    }
    // A Power Automate flow JSON (export package definition.json, solution workflow, or a flow
    // as the API returns it).
    if let Some(props) = o.get("properties").and_then(Value::as_object)
        && let Some(def) = props.get("definition")
    {
        let connections = pa_connections(props.get("connectionReferences"));
        let display = props
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or(name);
        let path = root.key("properties").key("definition");
        return Ok(vec![build(
            def,
            &path,
            display,
            shown,
            Format::FlowJson,
            connections,
            Map::new(),
            map,
        )]);
    }
    // A Logic Apps Standard workflow.json.
    if let Some(def) = o.get("definition")
        && def.get("triggers").is_some() | def.get("actions").is_some()
    {
        let mut connections = Connections::new();
        let mut problems = Vec::new();
        if let Some(bytes) = beside("connections.json") {
            match parse_json(&bytes, "connections.json") {
                Ok(c) => connections = standard_connections(&c),
                Err(e) => problems.push(Problem {
                    path: "connections.json".to_owned(),
                    message: e.to_string(),
                }),
            }
        }
        let mut flow = build(
            def,
            &root.key("definition"),
            name,
            shown,
            Format::LogicAppsStandard,
            connections,
            Map::new(),
            map,
        );
        flow.problems.extend(problems);
        return Ok(vec![flow]);
    }
    // A bare definition.
    if o.contains_key("triggers") || o.contains_key("actions") {
        return Ok(vec![build(
            v,
            &root,
            name,
            shown,
            Format::BareDefinition,
            Connections::new(),
            Map::new(),
            map,
        )]);
    }
    Err(LoadError::NotAFlow {
        path: shown.to_owned(),
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one private constructor with named parts"
)]
fn build(
    def: &Value,
    path: &JsonPath,
    name: &str,
    source: &str,
    format: Format,
    connections: Connections,
    parameter_values: Map<String, Value>,
    map: &OperationMap,
) -> LoadedFlow {
    let (definition, problems) =
        parse_definition(def, path, &connections, map, format.foreach_default());
    LoadedFlow {
        name: name.to_owned(),
        source: source.to_owned(),
        format,
        definition,
        connections,
        parameter_values,
        problems,
    }
}

/// `connectionReferences` of a Power Automate flow: `{name: {id | api.name, connectionName}}`.
fn pa_connections(refs: Option<&Value>) -> Connections {
    let mut out = Connections::new();
    for (name, r) in refs.and_then(Value::as_object).into_iter().flatten() {
        let api = r
            .get("id")
            .or_else(|| r.get("api").and_then(|a| a.get("name")))
            .and_then(Value::as_str)
            .unwrap_or(name);
        out.insert(
            name.clone(),
            Connector::of_api(api).or_else(|| Connector::of_api(name)),
        );
    }
    out
}

/// `connections.json` of Logic Apps Standard: `managedApiConnections.{name}.api.id`.
fn standard_connections(c: &Value) -> Connections {
    let mut out = Connections::new();
    for (name, r) in c
        .get("managedApiConnections")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let api = r
            .get("api")
            .and_then(|a| a.get("id"))
            .and_then(Value::as_str)
            .unwrap_or(name);
        out.insert(
            name.clone(),
            Connector::of_api(api).or_else(|| Connector::of_api(name)),
        );
    }
    out
}

fn load_arm(
    template: &Map<String, Value>,
    resources: &[Value],
    shown: &str,
    map: &OperationMap,
) -> Result<Vec<LoadedFlow>, LoadError> {
    let root = JsonPath::root().key("resources");
    let mut flows = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let ty = r.get("type").and_then(Value::as_str).unwrap_or("");
        if !ty.eq_ignore_ascii_case("Microsoft.Logic/workflows") {
            continue;
        }
        let path = root.index(i).key("properties");
        let props = r.get("properties").and_then(Value::as_object);
        let Some(def) = props.and_then(|p| p.get("definition")) else {
            return Err(LoadError::Invalid {
                path: shown.to_owned(),
                message: format!("{path} has no definition"),
            });
        };
        let name = arm_literal(r.get("name"), template).unwrap_or_else(|| format!("workflow {i}"));
        // `$connections` values name each connection's managed API by id.
        let mut connections = Connections::new();
        let mut values = Map::new();
        for (k, p) in props
            .and_then(|p| p.get("parameters"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let value = p.get("value").cloned().unwrap_or(Value::Null);
            if k == "$connections" {
                for (cname, c) in value.as_object().into_iter().flatten() {
                    let api = c
                        .get("id")
                        .and_then(|v| arm_literal(Some(v), template))
                        .unwrap_or_else(|| cname.clone());
                    connections.insert(
                        cname.clone(),
                        Connector::of_api(&api).or_else(|| Connector::of_api(cname)),
                    );
                }
            } else {
                values.insert(k.clone(), value);
            }
        }
        flows.push(build(
            def,
            &path.key("definition"),
            &name,
            shown,
            Format::ArmTemplate,
            connections,
            values,
            map,
        ));
    }
    if flows.is_empty() {
        return Err(LoadError::NotAFlow {
            path: shown.to_owned(),
        });
    }
    Ok(flows)
}

/// The text of an ARM value: a literal, or `[parameters('p')]` / `[variables('v')]` resolved to
/// a literal default; other template expressions are kept as written (their last path segment
/// still names the managed API in `concat(..., '/managedApis/office365')`).
fn arm_literal(v: Option<&Value>, template: &Map<String, Value>) -> Option<String> {
    let s = v?.as_str()?;
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return Some(s.to_owned());
    };
    for (func, section, field) in [
        ("parameters('", "parameters", Some("defaultValue")),
        ("variables('", "variables", None),
    ] {
        if let Some(rest) = inner.strip_prefix(func)
            && let Some(name) = rest.strip_suffix("')")
        {
            let entry = template.get(section)?.get(name)?;
            let value = match field {
                Some(f) => entry.get(f)?,
                None => entry,
            };
            return value.as_str().map(str::to_owned);
        }
    }
    // `concat(..., '/managedApis/teams')`: keep the last quoted piece.
    inner
        .rsplit('\'')
        .nth(1)
        .map(str::to_owned)
        .or_else(|| Some(inner.to_owned()))
}

/// Files above this size inside a package are refused (a definition is a few hundred KB).
const ENTRY_BYTES_MAX: u64 = 64 * 1024 * 1024;

fn load_zip(bytes: &[u8], shown: &str, map: &OperationMap) -> Result<Vec<LoadedFlow>, LoadError> {
    let zip_err = |e: zip::result::ZipError| LoadError::Zip {
        path: shown.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_err)?;
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    let flow_defs: Vec<&String> = names
        .iter()
        .filter(|n| {
            let l = n.to_ascii_lowercase().replace('\\', "/");
            l.starts_with("microsoft.flow/flows/") && l.ends_with("/definition.json")
        })
        .collect();
    let workflows: Vec<&String> = names
        .iter()
        .filter(|n| {
            let l = n.to_ascii_lowercase().replace('\\', "/");
            l.starts_with("workflows/") && l.ends_with(".json")
        })
        .collect();
    let (chosen, format, what) = if !flow_defs.is_empty() {
        (
            flow_defs,
            Format::PowerAutomatePackage,
            "the Power Automate package",
        )
    } else if !workflows.is_empty() {
        (workflows, Format::Solution, "the solution")
    } else {
        return Err(LoadError::EmptyPackage {
            path: shown.to_owned(),
            what: "the zip archive",
            files: names.join(", "),
        });
    };
    let mut flows = Vec::new();
    for inner in chosen {
        let mut file = archive.by_name(inner).map_err(zip_err)?;
        if file.size() > ENTRY_BYTES_MAX {
            return Err(LoadError::Invalid {
                path: format!("{shown}!{inner}"),
                message: format!("{} bytes is too large for a flow definition", file.size()),
            });
        }
        let mut data = Vec::new();
        file.by_ref()
            .take(ENTRY_BYTES_MAX + 1)
            .read_to_end(&mut data)
            .map_err(|e| LoadError::Zip {
                path: shown.to_owned(),
                message: format!("{inner}: {e}"),
            })?;
        let source = format!("{shown}!{inner}");
        let v = parse_json(&data, &source)?;
        let stem = file_stem(inner);
        // Solution workflows are named `<Name>-<GUID>.json`.
        let name = match format {
            Format::Solution => strip_guid(&stem),
            _ => stem,
        };
        let mut loaded = load_json(&v, &source, &name, map, &|_| None)?;
        for f in &mut loaded {
            f.format = format;
        }
        flows.extend(loaded);
    }
    if flows.is_empty() {
        return Err(LoadError::EmptyPackage {
            path: shown.to_owned(),
            what,
            files: names.join(", "),
        });
    }
    Ok(flows)
}

fn strip_guid(stem: &str) -> String {
    match stem.rsplit_once('-') {
        // `Name-XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`: 5 dash-separated hex groups at the end.
        _ if stem.len() > 37 && stem.as_bytes()[stem.len() - 37] == b'-' => {
            let tail = &stem[stem.len() - 36..];
            if tail.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return stem[..stem.len() - 37].to_owned();
            }
            stem.to_owned()
        }
        _ => stem.to_owned(),
    }
}
