//! The route table: every route the simulator serves, with what a description of it needs
//! ([`Route`]).
//!
//! One table feeds the parity ledger test, the OpenAPI document (`/openapi.json`, `insightsim
//! openapi`) and the Power Platform custom connector (`insightsim connector export`), so none of
//! them can drift from the others; `simulator/tests/it/routes.rs` checks in both directions that the
//! router serves exactly the routes listed here, and that every answer matches its description.

pub use super::route::{
    Content, Header, In, Kind, Names, Param, Reply, RequestBody, Route, SchemaFn, Surface,
    path_param,
};

/// The route a request is an instance of, preferring literal segments over placeholders
/// (`manage/datasources/v2` over `manage/datasources/{dataSource}`).
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .filter(|r| r.method == method && r.matches_path(path))
        .max_by_key(|r| r.path.matches('/').count() * 100 - r.path.matches('{').count())
}

mod control;
mod data;
mod lifecycle;
mod params;

/// Every route the server answers: the connector's data surface, its lifecycle surface, then the
/// control API.
pub const ROUTES: &[Route] = &concat::<
    { data::ROUTES.len() + lifecycle::ROUTES.len() + control::ROUTES.len() },
>(&[data::ROUTES, lifecycle::ROUTES, control::ROUTES]);

/// The parts of the table, one after the other (a `const fn`, so that `ROUTES` stays a constant
/// slice that the description generators can walk without allocating).
const fn concat<const N: usize>(parts: &[&[Route]]) -> [Route; N] {
    let mut out = [parts[0][0]; N];
    let mut k = 0;
    let mut i = 0;
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_placeholders() {
        let r = find("GET", "/v1/instances/x/manage/datasources/v2").unwrap();
        assert_eq!(r.operation_id, "listDataSourcesV2");
        let r = find("GET", "/v1/instances/x/manage/datasources/PoS").unwrap();
        assert_eq!(r.operation_id, "getDataSource");
    }

    #[test]
    fn a_placeholder_with_a_suffix_needs_the_suffix() {
        let r = Route {
            path: "/p/{n}.csv",
            ..ROUTES[0]
        };
        assert!(r.matches_path("/p/0.csv"));
        assert!(!r.matches_path("/p/0"));
        assert!(!r.matches_path("/p/.csv"));
    }

    #[test]
    fn operation_ids_are_unique_and_placeholders_known() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|r| r.operation_id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate operation ids");
        for r in ROUTES {
            for p in r.path_params() {
                assert!(
                    !path_param(p).name.is_empty(),
                    "{}: unknown {{{p}}}",
                    r.path
                );
            }
        }
    }

    #[test]
    fn v1_routes_describe_auth_and_the_call_limit() {
        for r in ROUTES.iter().filter(|r| r.surface == Surface::V1) {
            let statuses: Vec<u16> = r.replies().iter().map(|r| r.status).collect();
            assert!(
                statuses.contains(&401) && statuses.contains(&429),
                "{}",
                r.path
            );
        }
    }
}
