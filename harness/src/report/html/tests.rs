//! The HTML report of a real run, read back with an XML parser: the page's structure, failing
//! cases first, and the plot's marks against the journal and the simulator's grading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::*;
use crate::case::{CaseSettings, run_case};
use crate::flows::find_flow;
use crate::replay::{CaseRun, FlowUnderTest, RunOptions, Runner};
use crate::report::timeline::mark;
use crate::scenario::{Scenario, parse};

/// One element of the page: its name, attributes, and its ancestors' names.
#[derive(Debug, Clone)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    /// The `id` of the nearest enclosing `<section>`, if any.
    section: Option<String>,
    /// The `data-connection` of the nearest enclosing `<svg>`, if any.
    svg: Option<String>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|w| w == class))
    }
}

/// Every element of a well-formed page (the parse fails on malformed markup).
fn elements(page: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(page);
    let mut out = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let event = reader.read_event().unwrap_or_else(|e| {
            panic!(
                "the page is not well-formed at {}: {e}",
                reader.buffer_position()
            )
        });
        match event {
            event @ (Event::Start(_) | Event::Empty(_)) => {
                let opens = matches!(event, Event::Start(_));
                let (Event::Start(e) | Event::Empty(e)) = event else {
                    unreachable!()
                };
                let mut attrs = BTreeMap::new();
                for a in e.attributes() {
                    let a = a.unwrap();
                    attrs.insert(
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    );
                }
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                let parent = stack.last();
                let mut el = Element {
                    section: parent.and_then(|p| p.section.clone()),
                    svg: parent.and_then(|p| p.svg.clone()),
                    name,
                    attrs,
                };
                if el.name == "section" {
                    el.section = el.attr("id").map(str::to_owned);
                }
                if el.name == "svg" {
                    el.svg = el.attr("data-connection").map(str::to_owned);
                }
                out.push(el.clone());
                // `Event::Empty` has no end tag: only `Start` opens a scope.
                if opens {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenario(id: &str) -> (PathBuf, Scenario) {
    let path = repo().join("scenarios").join(format!("{id}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = parse(&text, &path).unwrap();
    (path, scenario)
}

/// Runs cases against a reference flow in-process and returns the results and the runs.
fn run(flow: &str, ids: &[&str]) -> (Vec<CaseResult>, Vec<CaseRun>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let factory = find_flow(flow).unwrap();
        let runner = Runner::new(FlowUnderTest::InProcess(factory), RunOptions::default())
            .await
            .unwrap();
        let mut results = Vec::new();
        let mut runs = Vec::new();
        for id in ids {
            let (path, s) = scenario(id);
            results.push(run_case(&runner, id, &path, &s, CaseSettings::default()).await);
            runs.push(runner.run(&s).await);
        }
        (results, runs)
    })
}

fn meta(flow: &str) -> RunMeta {
    RunMeta {
        flow: flow.to_owned(),
        seed: None,
        strict: false,
        started: "2026-01-01T00:00:00Z".to_owned(),
        version: "test".to_owned(),
    }
}

#[test]
fn the_failing_case_comes_first_and_its_plot_marks_the_early_retries() {
    let flow = "export-ignores-retry-after";
    let ids = [
        "call-limit/fixed-window-is-respected-too",
        "call-limit/no-call-before-retry-after",
    ];
    let (results, runs) = run(flow, &ids);
    let page = html(&results, false, &meta(flow));
    let els = elements(&page);

    // Structure: a summary, then one section per case, failing first.
    assert!(els.iter().any(|e| e.attr("id") == Some("summary")));
    let cases: Vec<&Element> = els
        .iter()
        .filter(|e| e.name == "section" && e.has_class("case"))
        .collect();
    assert_eq!(cases.len(), ids.len());
    assert_eq!(cases[0].attr("data-verdict"), Some("fail"), "{page}");
    let failing = cases[0].attr("data-case-id").unwrap();
    let index = ids.iter().position(|id| *id == failing).unwrap();
    let result = &results[index];
    let run = &runs[index];
    assert_eq!(result.outcome, crate::outcome::Outcome::Fail);
    let section = cases[0].attr("id").unwrap();
    let in_case = |e: &&Element| e.section.as_deref() == Some(section);
    assert!(
        els.iter()
            .filter(in_case)
            .any(|e| e.has_class("requirement"))
    );
    assert!(els.iter().filter(in_case).any(|e| e.has_class("checks")));
    assert!(
        els.iter()
            .filter(in_case)
            .any(|e| e.has_class("transcript"))
    );

    // The plot of the flow's connection: one mark per journal call, same times and statuses.
    let journal: Vec<_> = run
        .journal
        .iter()
        .filter(|e| CaseRun::is_flow_call(e))
        .collect();
    let connection = journal[0].connection.clone().unwrap();
    let svg = els
        .iter()
        .filter(in_case)
        .find(|e| e.name == "svg" && e.attr("data-connection") == Some(connection.as_str()))
        .expect("a plot of the flow's connection");
    let calls_max = run
        .grades
        .iter()
        .find_map(|g| g.ideal_per_window)
        .map(|n| n.to_string());
    assert!(calls_max.is_some(), "the case has a call limit");
    assert_eq!(svg.attr("data-calls-max"), calls_max.as_deref());
    let marks: Vec<&Element> = els
        .iter()
        .filter(in_case)
        .filter(|e| e.svg.as_deref() == Some(connection.as_str()) && e.has_class("call"))
        .collect();
    assert_eq!(marks.len(), journal.len());
    for (m, j) in marks.iter().zip(&journal) {
        let t: i64 = m.attr("data-t-ms").unwrap().parse().unwrap();
        assert_eq!(t, j.at.as_millis() - run.start.as_millis());
        assert_eq!(m.attr("data-status"), Some(j.status.to_string().as_str()));
        assert_eq!(m.has_class("throttled"), j.status == 429);
    }

    // Early retries: marked, inside a Retry-After band, and as many as the simulator graded.
    let early: Vec<i64> = marks
        .iter()
        .filter(|m| m.has_class("early"))
        .map(|m| m.attr("data-t-ms").unwrap().parse().unwrap())
        .collect();
    let graded = run
        .grades
        .iter()
        .find(|g| g.connection == connection)
        .unwrap()
        .early_retries;
    assert!(graded > 0);
    assert_eq!(early.len() as u64, graded);
    let bands: Vec<(i64, i64)> = els
        .iter()
        .filter(|e| e.svg.as_deref() == Some(connection.as_str()) && e.has_class("wait"))
        .filter(in_case)
        .map(|e| {
            (
                e.attr("data-from-ms").unwrap().parse().unwrap(),
                e.attr("data-to-ms").unwrap().parse().unwrap(),
            )
        })
        .collect();
    for t in &early {
        assert!(
            bands.iter().any(|(from, to)| from <= t && t < to),
            "early retry at {t} ms is in no Retry-After band {bands:?}"
        );
    }
    // Each early mark is what the marking rule says of the journal.
    let expected: Vec<i64> = mark(result.calls.calls.iter(), result.calls.window_ms)
        .iter()
        .filter(|m| m.early)
        .map(|m| m.at_ms)
        .collect();
    assert_eq!(early, expected);
}

#[test]
fn a_page_without_calls_has_no_plot_and_escapes_text() {
    let flow = "export-ignores-retry-after";
    let (mut results, _) = run(flow, &["call-limit/fixed-window-is-respected-too"]);
    results[0].requirement = "A <flow> MUST & \"quote\"".to_owned();
    results[0].calls = CallLog::default();
    let page = html(&results, false, &meta(flow));
    let els = elements(&page);
    assert!(
        !els.iter()
            .any(|e| e.name == "svg" && e.has_class("timeline"))
    );
    assert!(page.contains("A &lt;flow&gt; MUST &amp; &quot;quote&quot;"));
}

#[test]
fn the_load_page_plots_every_connection_as_the_driver_saw_it() {
    use std::sync::Arc;

    use simulator::tenant::TenantSpec;
    use simulator::{Clock, SimConfig, Simulator};

    use crate::load::{LoadConfig, LoadProgress, run as load};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (report, grades) = runtime.block_on(async {
        let mut spec = TenantSpec::demo();
        spec.customers = 200;
        spec.limits.rate_limit = "5/60s".to_owned();
        let sim = Arc::new(Simulator::new(SimConfig::new(spec, Clock::wall(1.0))));
        let handle = simulator::server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let config = LoadConfig {
            addr: handle.local_addr,
            connections: 2,
            token_prefix: "load".to_owned(),
            shared_token: false,
            duration: None,
            requests: Some(30),
            path_template: format!(
                "/v1/instances/{}/data/Customer?$top=10&$skip={{skip}}",
                sim.instance_id
            ),
            skip_max: 200,
            page_size: 10,
            honour_retry_after: false,
            seed: 1,
        };
        let report = load(config, Arc::new(LoadProgress::default()))
            .await
            .unwrap();
        let grades = sim.limiter.report(sim.now());
        handle.shutdown(std::time::Duration::from_secs(1)).await;
        (report, grades)
    });
    let mut log = report.calls.clone();
    log.calls_max = grades.iter().find_map(|g| g.ideal_per_window);
    log.window_ms = grades[0].window.as_millis();
    assert_eq!(log.calls.len() as u64, report.requests);
    let page = load_html(&report, &grades, &log);
    let els = elements(&page);
    let plots: Vec<&Element> = els
        .iter()
        .filter(|e| e.name == "svg" && e.has_class("timeline"))
        .collect();
    assert_eq!(plots.len(), grades.len());
    let mut early_total = 0;
    for g in &grades {
        let marks: Vec<&Element> = els
            .iter()
            .filter(|e| e.svg.as_deref() == Some(g.connection.as_str()) && e.has_class("call"))
            .collect();
        assert_eq!(marks.len() as u64, g.calls, "{}", g.connection);
        let throttled = marks.iter().filter(|m| m.has_class("throttled")).count() as u64;
        assert_eq!(throttled, g.throttled, "{}", g.connection);
        // Within a second and a 60 s window, every call after the first 429 is early, for the
        // driver's clock and the server's alike.
        let early = marks.iter().filter(|m| m.has_class("early")).count() as u64;
        assert_eq!(early, g.early_retries, "{}", g.connection);
        early_total += early;
    }
    // 30 requests against 5 admitted per connection: at least 20 throttled, so some early
    // retries, however the driver shared the requests between its connections.
    assert!(early_total > 0);
}
