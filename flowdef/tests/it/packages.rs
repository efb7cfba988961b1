//! The `.zip` fixtures in `flows/definitions/packages/`: a Power Automate export package and a
//! solution export, built here deterministically from the JSON definitions beside them. The
//! committed files must equal a fresh build (`UPDATE_PACKAGES=1 cargo test -p flowdef --test it
//! packages` rebuilds them), and the loader reads them as their formats.

use std::io::Write;
use std::path::{Path, PathBuf};

use flowdef::Format;
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/definitions")
}

fn read(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap();
    s.push(b'\n');
    s
}

/// A zip of `files` in order, every entry dated 1980-01-01 00:00 and stored (not compressed, so no compressor version can change them): the same bytes
/// on every build.
fn zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, data) in files {
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The Power Automate export of the e-mail flow (Export > Package (.zip)).
fn power_automate_package() -> Vec<u8> {
    let flow = read("email-on-segment-threshold.json");
    let id = flow["name"].as_str().unwrap().to_owned();
    let manifest = json!({
        "schema": "1.0",
        "details": {"displayName": "email-on-segment-threshold", "description": "E-mail the data owners when a segment crosses a threshold", "createdTime": "2026-01-01T00:00:00Z", "packageTelemetryId": "00000000-0000-0000-0000-000000000001", "creator": "N/A", "sourceEnvironment": ""},
        "resources": {
            id.clone(): {"type": "Microsoft.Flow/flows", "suggestedCreationType": "Update", "creationType": "Existing, New, Update", "details": {"displayName": "email-on-segment-threshold"}, "configurableBy": "User", "hierarchy": "Root", "dependsOn": []}
        }
    });
    let dir = format!("Microsoft.Flow/flows/{id}");
    zip(&[
        ("manifest.json", pretty(&manifest)),
        (&format!("{dir}/apisMap.json"), pretty(&json!({}))),
        (&format!("{dir}/connectionsMap.json"), pretty(&json!({}))),
        (&format!("{dir}/definition.json"), pretty(&flow)),
    ])
}

/// A solution export with two cloud flows (Solutions > Export).
fn solution() -> Vec<u8> {
    let workflow = |file: &str| {
        let flow = read(file);
        json!({
            "properties": {
                "connectionReferences": flow["properties"]["connectionReferences"],
                "definition": flow["properties"]["definition"],
            },
            "schemaVersion": "1.0.0.0",
        })
    };
    let solution_xml = "<ImportExportXml version=\"9.2\" SolutionPackageVersion=\"9.2\" languagecode=\"1033\"><SolutionManifest><UniqueName>ContosoCustomerInsightsFlows</UniqueName><Version>1.0.0.0</Version><Managed>0</Managed></SolutionManifest></ImportExportXml>\n";
    let customizations = "<ImportExportXml><Workflows><Workflow WorkflowId=\"{c4d5e6f7-0a1b-4c2d-8e3f-4a5b6c7d8e9f}\" Name=\"ExportOnFullRefresh\"><JsonFileName>/Workflows/ExportOnFullRefresh-C4D5E6F7-0A1B-4C2D-8E3F-4A5B6C7D8E9F.json</JsonFileName><Category>5</Category></Workflow><Workflow WorkflowId=\"{a4b5c6d7-8e9f-4a01-b2c3-d4e5f6a7b8c9}\" Name=\"StatusReportOnRefreshSucceeded\"><JsonFileName>/Workflows/StatusReportOnRefreshSucceeded-A4B5C6D7-8E9F-4A01-B2C3-D4E5F6A7B8C9.json</JsonFileName><Category>5</Category></Workflow></Workflows></ImportExportXml>\n";
    zip(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/octet-stream\" /><Default Extension=\"json\" ContentType=\"application/octet-stream\" /></Types>\n".to_vec()),
        ("customizations.xml", customizations.as_bytes().to_vec()),
        ("solution.xml", solution_xml.as_bytes().to_vec()),
        ("Workflows/ExportOnFullRefresh-C4D5E6F7-0A1B-4C2D-8E3F-4A5B6C7D8E9F.json", pretty(&workflow("export-on-full-refresh.json"))),
        ("Workflows/StatusReportOnRefreshSucceeded-A4B5C6D7-8E9F-4A01-B2C3-D4E5F6A7B8C9.json", pretty(&workflow("status-report-on-refresh-succeeded.json"))),
    ])
}

/// The committed file equals `built`; `UPDATE_PACKAGES=1` (outside CI) writes it.
fn check_committed(name: &str, built: &[u8]) {
    let path = dir().join("packages").join(name);
    let committed = std::fs::read(&path).ok();
    if committed.as_deref() == Some(built) {
        return;
    }
    let update = std::env::var("UPDATE_PACKAGES").is_ok_and(|v| v == "1")
        && std::env::var("CI").map_or(true, |v| v != "true");
    if update {
        std::fs::write(&path, built).unwrap();
        return;
    }
    panic!(
        "{} differs from a fresh build of the definitions it packages; rebuild it with UPDATE_PACKAGES=1 cargo test -p flowdef --test it packages",
        path.display()
    );
}

#[test]
fn packages_build_the_same_bytes_every_time() {
    assert_eq!(power_automate_package(), power_automate_package());
    assert_eq!(solution(), solution());
}

#[test]
fn the_power_automate_package_is_committed_and_loads_as_one_flow() {
    check_committed("email-on-segment-threshold.zip", &power_automate_package());
    let flows = flowdef::load(&dir().join("packages/email-on-segment-threshold.zip")).unwrap();
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.format, Format::PowerAutomatePackage);
    assert_eq!(f.name, "email-on-segment-threshold");
    assert!(f.source.ends_with("email-on-segment-threshold.zip!Microsoft.Flow/flows/9a1e6c3b-2b4d-4f7e-8c90-1d2e3f4a5b6c/definition.json"), "{}", f.source);
    assert!(f.is_runnable(), "{:?}", f.problems);
}

#[test]
fn the_solution_is_committed_and_loads_as_two_flows() {
    check_committed("contoso-customer-insights-solution.zip", &solution());
    let flows =
        flowdef::load(&dir().join("packages/contoso-customer-insights-solution.zip")).unwrap();
    let names: Vec<(&str, Format)> = flows.iter().map(|f| (f.name.as_str(), f.format)).collect();
    assert_eq!(
        names,
        [
            ("ExportOnFullRefresh", Format::Solution),
            ("StatusReportOnRefreshSucceeded", Format::Solution)
        ]
    );
    assert!(flows.iter().all(|f| f.is_runnable()));
}
