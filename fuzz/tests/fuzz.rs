//! Runs every probe on generated inputs, and replays the corpus of inputs that once failed.
//!
//! `cargo test -p fuzz` runs a bounded number of cases per target (fit for CI); a longer run:
//!
//! ```text
//! INSIGHTSIM_FUZZ_CASES=100000 cargo test --release -p fuzz
//! ```
//!
//! A failing input is printed, shrunk; with `INSIGHTSIM_FUZZ_SAVE=1` it is also written to
//! `fuzz/corpus/<target>/`, so that once fixed it is replayed by every later run.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// Cases per target when `INSIGHTSIM_FUZZ_CASES` is not set.
const CASES_DEFAULT: u32 = 256;
/// The request-head target opens sockets: fewer cases by default.
const HEAD_CASES_DEFAULT: u32 = 64;

fn cases(default: u32) -> u32 {
    std::env::var("INSIGHTSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Runs `probe` on `cases` inputs of `strategy`; on a failure, reports the shrunk input (and
/// saves it to the corpus when asked).
fn run<T: Debug + Clone>(
    target: &str,
    cases: u32,
    strategy: impl Strategy<Value = T>,
    bytes: impl Fn(&T) -> Vec<u8>,
    probe: impl Fn(&T) -> Result<(), String>,
) {
    let config = Config {
        cases,
        // The corpus, not proptest's seed files, keeps the inputs that failed.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| {
        probe(&input).map_err(TestCaseError::fail)
    });
    if let Err(TestError::Fail(why, input)) = result {
        let raw = bytes(&input);
        let mut saved = String::new();
        if std::env::var_os("INSIGHTSIM_FUZZ_SAVE").is_some() {
            let dir = corpus_dir(target);
            let name = format!("found-{:016x}", fnv(&raw));
            let _ = std::fs::create_dir_all(&dir);
            if std::fs::write(dir.join(&name), &raw).is_ok() {
                saved = format!("\nsaved as fuzz/corpus/{target}/{name}");
            }
        }
        panic!(
            "{target}: {why}\ninput: {:?}{saved}\n(add it to fuzz/corpus/{target}/ once fixed; INSIGHTSIM_FUZZ_SAVE=1 does it)",
            String::from_utf8_lossy(&raw)
        );
    } else if let Err(e) = result {
        panic!("{target}: {e}");
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every file of `corpus/<target>/`, by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name != "README.md").then(|| Some((name, std::fs::read(e.path()).ok()?)))?
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn replay(target: &str, probe: impl Fn(&[u8]) -> Result<(), String>) {
    let files = corpus(target);
    assert!(!files.is_empty(), "fuzz/corpus/{target}/ is empty");
    for (name, bytes) in files {
        if let Err(why) = probe(&bytes) {
            panic!("fuzz/corpus/{target}/{name} fails again: {why}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Pieces of OData query options: option names, operators, literals, field names, escapes.
fn odata_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "$filter=",
            "$select=",
            "$orderby=",
            "$top=",
            "$skip=",
            "$search=",
            "$expand=",
            "$count=true",
            "$skiptoken=",
            "&",
            "%20",
            "%27",
            "%",
            "%2",
            "'",
            "''",
            "(",
            ")",
            ",",
            " eq ",
            " ne ",
            " gt ",
            " ge ",
            " lt ",
            " le ",
            " and ",
            " or ",
            "not ",
            " in ",
            " asc",
            " desc",
            "null",
            "true",
            "false",
            "IsMemberOfSegment(",
            "'HighValueCustomers'",
            "CustomerId",
            "EMail",
            "FullName",
            "City",
            "Country",
            "PostCode",
            "Telephone",
            "ActivityTime",
            "ActivityType",
            "UnifiedActivity",
            "Customer_Measure",
            "2026-01-01T00:00:00Z",
            "2026-13-45T99:99:99Z",
            "-1",
            "99999999999999999999",
            "1e308",
            "0.5",
            "\"",
            "\u{e9}",
            "\u{0}",
            "+",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,6}",
        any::<String>().prop_map(|s| s.chars().take(4).collect()),
    ]
}

#[test]
fn odata_query_options() {
    run(
        "odata",
        cases(CASES_DEFAULT),
        prop::collection::vec(odata_piece(), 0..16).prop_map(|v| v.concat()),
        |q| q.as_bytes().to_vec(),
        |q| fuzz::odata(q),
    );
}

#[test]
fn odata_corpus() {
    replay("odata", |b| fuzz::odata(&text(b)));
}

/// `METHOD PATH[?QUERY]`, a blank line, then the body: the corpus form of a target input.
fn target_of(bytes: &[u8]) -> Result<(), String> {
    let t = text(bytes);
    let (line, body) = t.split_once("\n\n").unwrap_or((&t, ""));
    let (method, target) = line.split_once(' ').unwrap_or((line, "/"));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    fuzz::target(method, path, query, body.as_bytes())
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "v1",
            "instances",
            "2c810d1e-ad34-4913-b184-f708e9fa68a5",
            "data",
            "Customer",
            "manage",
            "entities",
            "segments",
            "measures",
            "datasources",
            "workflows",
            "main",
            "jobs",
            "cancel",
            "triggers",
            "subscriptions",
            "segment-threshold-crossed",
            "partitions",
            "0.csv",
            "statusreport",
            "v2",
            "entitysize",
            "_sim",
            "state",
            "journal",
            "events",
            "deliveries",
            "redeliver",
            "faults",
            "clock",
            "health",
            "%2F",
            "%00",
            "..",
            "",
            "%ZZ",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9%._-]{0,8}",
    ]
}

#[test]
fn request_targets() {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
    let path =
        prop::collection::vec(path_segment(), 0..7).prop_map(|s| format!("/{}", s.join("/")));
    let query =
        prop::option::of(prop::collection::vec(odata_piece(), 0..6).prop_map(|v| v.concat()));
    let body = prop_oneof![
        Just(String::new()),
        Just(r#"{"NotificationUrl":"http://127.0.0.1:9/x","segmentName":"HighValueCustomers","threshold":1}"#.to_owned()),
        Just(r#"{"by":"1000000000000000ms1000000000000000ms"}"#.to_owned()),
        "[ -~]{0,40}",
    ];
    run(
        "target",
        cases(CASES_DEFAULT),
        (method, path, query, body),
        |(m, p, q, b)| {
            let target = q.as_ref().map_or(p.clone(), |q| format!("{p}?{q}"));
            format!("{m} {target}\n\n{b}").into_bytes()
        },
        |(m, p, q, b)| fuzz::target(m, p, q.as_deref(), b.as_bytes()),
    );
}

#[test]
fn request_target_corpus() {
    replay("target", target_of);
}

/// A tenant file: sections and keys of the real format with values of every kind.
fn tenant_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "customers",
        "seed",
        "name",
        "rate_limit",
        "page_size_max",
        "page_size_default",
        "server_connections_max",
        "server_header_bytes_max",
        "server_header_read_timeout",
        "server_query_time_max",
        "journal_bytes_max",
        "history_bytes_max",
        "clock_advance_max",
        "deliveries_window",
        "deliveries_per_subscription_max",
        "schedule_every",
        "schedule_first_after",
        "task_timeout",
        "ingestion",
        "transient",
        "retry_policy",
        "retry_count",
        "retry_interval",
        "allowed_hosts",
        "tokens",
        "initial_share",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "0",
            "-1",
            "1",
            "100",
            "18446744073709551615",
            "9223372036854775807",
            "1e400",
            "0.5",
            "true",
            "\"off\"",
            "\"100/60s\"",
            "\"5m\"",
            "\"0s\"",
            "\"1w\"",
            "\"1000000000000000ms1000000000000000ms1000000000000000ms\"",
            "\"2s..1s\"",
            "\"\"",
            "[]",
            "[\"*\"]",
            "{}",
            "\"exponential\"",
            "\"fixed\"",
            "nan",
            "inf",
        ])
        .prop_map(str::to_owned),
        "\"[ -~]{0,12}\"",
        "[0-9]{1,22}",
    ];
    let section = prop::sample::select(vec![
        "",
        "[limits]",
        "[refresh]",
        "[refresh.durations]",
        "[refresh.failures]",
        "[delivery]",
        "[auth]",
        "[[segments]]",
        "[[measures]]",
        "[limits.x]",
        "[",
    ]);
    prop::collection::vec((section, prop::collection::vec((key, value), 0..4)), 0..4).prop_map(
        |sections| {
            let mut out = String::new();
            for (header, pairs) in sections {
                out.push_str(header);
                out.push('\n');
                for (k, v) in pairs {
                    out.push_str(&format!("{k} = {v}\n"));
                }
            }
            out
        },
    )
}

#[test]
fn tenant_files() {
    run(
        "tenant",
        cases(CASES_DEFAULT),
        tenant_text(),
        |t| t.as_bytes().to_vec(),
        |t| fuzz::tenant(t),
    );
}

#[test]
fn tenant_corpus() {
    replay("tenant", |b| fuzz::tenant(&text(b)));
}

/// The suite's own scenario files, cut and changed line by line.
fn scenario_text() -> impl Strategy<Value = String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<String> = ["segment", "datasource", "delivery", "paging", "call-limit"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(root.join(dir)).ok())
        .flat_map(|d| d.filter_map(Result::ok).map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no scenario files under {}",
        root.display()
    );
    let edit = (
        0usize..200,
        prop_oneof![
            Just(None),
            prop::sample::select(vec![
                "",
                "x = 1",
                "[[steps]]",
                "at = \"-1s\"",
                "at = \"99999999999999d\"",
                "entity_count = -5",
                "threshold = 1e400",
                "[expect]",
                "format = 2",
                "seed = -1",
                "\"",
                "[[",
                "kind = \"nope\"",
                "at = \"1000000000000000ms1000000000000000ms\"",
            ])
            .prop_map(|s| Some(s.to_owned())),
        ],
    );
    (
        prop::sample::select(files),
        prop::collection::vec(edit, 0..5),
    )
        .prop_map(|(file, edits)| {
            let mut lines: Vec<String> = file.lines().map(str::to_owned).collect();
            for (at, replacement) in edits {
                if lines.is_empty() {
                    break;
                }
                let at = at % lines.len();
                match replacement {
                    None => {
                        lines.remove(at);
                    }
                    Some(line) => lines[at] = line,
                }
            }
            lines.join("\n")
        })
}

#[test]
fn scenario_files() {
    run(
        "scenario",
        cases(CASES_DEFAULT),
        scenario_text(),
        |t| t.as_bytes().to_vec(),
        |t| fuzz::scenario(t),
    );
}

#[test]
fn scenario_corpus() {
    replay("scenario", |b| fuzz::scenario(&text(b)));
}

/// A request head (and what follows it) from the pieces HTTP/1.1 is made of, well and badly.
fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "GET ",
            "POST ",
            "PATCH ",
            "CONNECT ",
            "G\u{0}T ",
            "/v1/instances",
            "/_sim/health",
            "/%zz",
            "http://[::1",
            "//a",
            "/\u{ff}",
            "ht!tp:/x",
            "/v1/instances/2c810d1e-ad34-4913-b184-f708e9fa68a5/data/Customer?$top=1",
            "http://h/x",
            "*",
            " HTTP/1.1",
            " HTTP/1.0",
            " HTTP/2",
            " HTTP/1.1\r\n",
            "\r\n",
            "\n",
            "\r",
            "\r\n\r\n",
            "host: a\r\n",
            "authorization: Bearer t\r\n",
            "content-length: 5\r\n",
            "content-length: 0\r\n",
            "content-length: -1\r\n",
            "content-length: 99999999999\r\n",
            "content-length: 1, 2\r\n",
            "transfer-encoding: chunked\r\n",
            "transfer-encoding: gzip\r\n",
            "transfer-encoding: chunked, gzip\r\n",
            "expect: 100-continue\r\n",
            "connection: close\r\n",
            "connection: upgrade\r\nupgrade: h2c\r\n",
            "x: \u{7f}\r\n",
            "bad header\r\n",
            " folded\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
            "zz\r\n",
            "ffffffffffffffffff\r\n",
            "0;ext\r\nx-t: 1\r\n\r\n",
            "{}",
            "hello",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
        (1usize..20_000).prop_map(|n| format!("x-long: {}\r\n", "a".repeat(n)).into_bytes()),
    ];
    prop::collection::vec(piece, 0..14).prop_map(|v| v.concat())
}

#[test]
fn request_heads() {
    run(
        "head",
        cases(HEAD_CASES_DEFAULT),
        head_bytes(),
        Clone::clone,
        |b| fuzz::head(b),
    );
}

#[test]
fn request_head_corpus() {
    replay("head", fuzz::head);
}

/// The strategies make inputs of the sizes the probes are meant for.
#[test]
fn the_strategies_make_varied_inputs() {
    let mut runner = TestRunner::deterministic();
    let heads: Vec<usize> = (0..50)
        .map(|_| head_bytes().new_tree(&mut runner).unwrap().current().len())
        .collect();
    assert!(
        heads.iter().any(|&n| n > 16 * 1024),
        "no head over the head limit"
    );
    assert!(heads.contains(&0), "no empty input");
}
