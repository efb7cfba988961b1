//! The operation map: connector operations (by Power Automate operation id, or by Logic Apps
//! method and path) to what insightsim does for them — a call of the simulated Customer Insights
//! API, or a call of one of the harness's sinks. The shipped table is `operations.toml`; a user
//! extends it with a file of the same format.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The connectors a definition can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Connector {
    #[serde(rename = "customerinsights")]
    CustomerInsights,
    #[serde(rename = "teams")]
    Teams,
    #[serde(rename = "office365")]
    Outlook,
}

impl Connector {
    pub fn id(self) -> &'static str {
        match self {
            Connector::CustomerInsights => "customerinsights",
            Connector::Teams => "teams",
            Connector::Outlook => "office365",
        }
    }

    /// The connector of an API id or connection name (`/providers/Microsoft.PowerApps/apis/
    /// shared_customerinsights`, `.../managedApis/teams`, `shared_office365`).
    pub fn of_api(api: &str) -> Option<Connector> {
        let last = api.rsplit('/').next().unwrap_or(api).to_ascii_lowercase();
        let name = last.strip_prefix("shared_").unwrap_or(&last);
        let name = name.split(['-', '_']).next().unwrap_or(name);
        match name {
            "customerinsights" => Some(Connector::CustomerInsights),
            "teams" => Some(Connector::Teams),
            "office365" | "outlook" => Some(Connector::Outlook),
            _ => None,
        }
    }
}

/// The harness's downstream connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    Teams,
    Email,
    Http,
}

/// One operation of the map.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub connector: Connector,
    pub id: String,
    #[serde(default)]
    pub also: Vec<String>,
    #[serde(default)]
    pub title: String,
    /// `"GET /datasets/{dataset}/tables/{table}/items"`.
    pub path: String,
    /// `"GET data/{table}"` for an API call.
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub query: Vec<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub key_filter: bool,
    #[serde(default)]
    pub pagination: Option<String>,
    #[serde(default)]
    pub sink: Option<Sink>,
}

/// One webhook trigger of the map.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerOperation {
    pub id: String,
    #[serde(default)]
    pub also: Vec<String>,
    #[serde(default)]
    pub title: String,
    pub path: String,
    /// The simulator's trigger id.
    pub trigger: String,
    #[serde(default)]
    pub inputs: Vec<String>,
}

/// The operation map.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationMap {
    #[serde(default, rename = "operation")]
    pub operations: Vec<Operation>,
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<TriggerOperation>,
}

/// A bad operation map file.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("cannot read the operation map {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

const BUILT_IN: &str = include_str!("operations.toml");

impl OperationMap {
    /// The shipped table.
    pub fn built_in() -> OperationMap {
        // The shipped table is checked by a test; were it ever broken, an empty map still lets
        // `check` report every operation as unknown instead of panicking.
        OperationMap::parse(BUILT_IN, "operations.toml").unwrap_or_default()
    }

    /// Parses a map; every entry needs exactly one of `api` and `sink`.
    pub fn parse(text: &str, path: &str) -> Result<OperationMap, MapError> {
        let map: OperationMap = toml::from_str(text).map_err(|e| MapError::Invalid {
            path: path.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        for op in &map.operations {
            if op.api.is_some() == op.sink.is_some() {
                return Err(MapError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "operation \"{}\" needs exactly one of `api` (a Customer Insights API call) and `sink` (teams, email or http)",
                        op.id
                    ),
                });
            }
            if split_path(&op.path).is_none() {
                return Err(MapError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "operation \"{}\": path \"{}\" must be \"METHOD /path\"",
                        op.id, op.path
                    ),
                });
            }
        }
        Ok(map)
    }

    /// The built-in table extended by the file at `path` (its entries replace built-in ones
    /// with the same connector and id).
    pub fn extended_by(path: &Path) -> Result<OperationMap, MapError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MapError::Read {
            path: shown.clone(),
            source,
        })?;
        let extra = OperationMap::parse(&text, &shown)?;
        Ok(OperationMap::built_in().merged(extra))
    }

    /// This map with `extra`'s entries added, replacing those with the same id.
    pub fn merged(mut self, extra: OperationMap) -> OperationMap {
        for op in extra.operations {
            self.operations
                .retain(|o| !(o.connector == op.connector && o.id.eq_ignore_ascii_case(&op.id)));
            self.operations.insert(0, op);
        }
        for t in extra.triggers {
            self.triggers.retain(|o| !o.id.eq_ignore_ascii_case(&t.id));
            self.triggers.insert(0, t);
        }
        self
    }

    /// The operation `id` of `connector`.
    pub fn by_id(&self, connector: Connector, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| {
            o.connector == connector
                && (o.id.eq_ignore_ascii_case(id)
                    || o.also.iter().any(|a| a.eq_ignore_ascii_case(id)))
        })
    }

    /// The operation of `connector` whose Logic Apps path matches `method` and `path`, with the
    /// path's parameters.
    pub fn by_path(
        &self,
        connector: Connector,
        method: &str,
        path: &str,
    ) -> Option<(&Operation, BTreeMap<String, String>)> {
        self.operations
            .iter()
            .filter(|o| o.connector == connector)
            .find_map(|o| match_path(&o.path, method, path).map(|p| (o, p)))
    }

    /// The trigger with this operation id.
    pub fn trigger_by_id(&self, id: &str) -> Option<&TriggerOperation> {
        self.triggers.iter().find(|t| {
            t.id.eq_ignore_ascii_case(id) || t.also.iter().any(|a| a.eq_ignore_ascii_case(id))
        })
    }

    /// The trigger whose Logic Apps path matches.
    pub fn trigger_by_path(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&TriggerOperation, BTreeMap<String, String>)> {
        self.triggers
            .iter()
            .find_map(|t| match_path(&t.path, method, path).map(|p| (t, p)))
    }

    /// The known operation ids of a connector, for messages.
    pub fn known(&self, connector: Connector) -> String {
        let ids: Vec<&str> = self
            .operations
            .iter()
            .filter(|o| o.connector == connector)
            .map(|o| o.id.as_str())
            .collect();
        ids.join(", ")
    }

    /// The known trigger ids, for messages.
    pub fn known_triggers(&self) -> String {
        let ids: Vec<&str> = self.triggers.iter().map(|t| t.id.as_str()).collect();
        ids.join(", ")
    }
}

fn split_path(pattern: &str) -> Option<(&str, &str)> {
    let (method, path) = pattern.trim().split_once(' ')?;
    let path = path.trim();
    path.starts_with('/').then_some((method, path))
}

/// Matches a Logic Apps path against a pattern; `{name}` segments capture (percent-decoded).
/// The query string, if any, is ignored.
pub fn match_path(pattern: &str, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let (pm, pp) = split_path(pattern)?;
    if !pm.eq_ignore_ascii_case(method) {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path);
    let want: Vec<&str> = pp.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (w, g) in want.iter().zip(&got) {
        if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            params.insert(name.to_owned(), percent_decode(g));
        } else if !w.eq_ignore_ascii_case(g) {
            return None;
        }
    }
    Some(params)
}

/// Percent-decodes a path segment (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_parses_and_covers_the_connector() {
        let map = OperationMap::parse(BUILT_IN, "operations.toml").unwrap();
        assert_eq!(map.triggers.len(), 6);
        for id in [
            "GetItems",
            "GetItem",
            "CreateItem",
            "UpdateItem",
            "GetEntities",
            "GetPartitions",
            "SendStatusReport",
        ] {
            assert!(map.by_id(Connector::CustomerInsights, id).is_some(), "{id}");
        }
        assert!(
            map.by_id(Connector::Teams, "PostMessageToConversation")
                .is_some()
        );
        assert!(map.by_id(Connector::Outlook, "sendemailv2").is_some());
    }

    #[test]
    fn matches_logic_apps_paths_and_decodes_their_parameters() {
        let map = OperationMap::built_in();
        let (op, params) = map
            .by_path(
                Connector::CustomerInsights,
                "get",
                "/datasets/abc/tables/Customer%5FMeasure/items?x=1",
            )
            .unwrap();
        assert_eq!(op.id, "GetItems");
        assert_eq!(params["table"], "Customer_Measure");
        assert!(
            map.by_path(
                Connector::CustomerInsights,
                "DELETE",
                "/datasets/a/tables/b/items"
            )
            .is_none()
        );
    }

    #[test]
    fn a_user_file_replaces_entries_by_id_and_bad_files_say_why() {
        let extra = OperationMap::parse(
            "[[operation]]\nconnector = \"customerinsights\"\nid = \"GetItems\"\npath = \"GET /x/{table}\"\napi = \"GET data/{table}\"\n",
            "mine.toml",
        )
        .unwrap();
        let map = OperationMap::built_in().merged(extra);
        assert_eq!(
            map.by_id(Connector::CustomerInsights, "GetItems")
                .unwrap()
                .path,
            "GET /x/{table}"
        );
        let err = OperationMap::parse(
            "[[operation]]\nconnector = \"teams\"\nid = \"X\"\npath = \"POST /x\"\n",
            "mine.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("needs exactly one of `api`"),
            "{err}"
        );
        let err = OperationMap::parse("[[operation]]\nconector = 1\n", "mine.toml").unwrap_err();
        assert!(err.to_string().starts_with("mine.toml: "), "{err}");
    }

    #[test]
    fn recognises_connectors_by_api_id() {
        assert_eq!(
            Connector::of_api("/providers/Microsoft.PowerApps/apis/shared_customerinsights"),
            Some(Connector::CustomerInsights)
        );
        assert_eq!(Connector::of_api("shared_teams_1"), Some(Connector::Teams));
        assert_eq!(
            Connector::of_api(
                "/subscriptions/x/providers/Microsoft.Web/locations/w/managedApis/office365"
            ),
            Some(Connector::Outlook)
        );
        assert_eq!(Connector::of_api("shared_sharepointonline"), None);
    }
}
