//! Every response body the double serves is validated against the platform's OpenAPI spec.

use std::collections::BTreeSet;

use cybedefend_platform_double::{
    Double, EvaluationMode, RESULT_TYPES, ScanMode, sample_violation,
};
use serde_json::{Value, json};

/// Where the live API (as the official CLI reads it) and the spec disagree, and how the double
/// follows the live API. Anything not listed here must match the spec exactly.
const DISCREPANCIES: &[(&str, &str)] = &[
    (
        "/project/{projectId}/results/sast",
        "spec: an array of pages; the API answers one page object (validated against the item schema)",
    ),
    ("/project/{projectId}/results/sca", "same as sast"),
    ("/project/{projectId}/results/iac", "same as sast"),
    ("/project/{projectId}/results/secret", "same as sast"),
    ("/project/{projectId}/results/cicd", "same as sast"),
];
// Extra fields the API sends and the spec omits are allowed by the spec itself (no
// `additionalProperties: false`): `url` in scan start, `acknowledged*` in violations.

const PROJECT: &str = "11111111-1111-4111-8111-111111111111";

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// OpenAPI 3.0 schema objects to JSON Schema: `nullable` becomes a `null` type, dangling
/// `$ref`s (the spec has a few) accept anything.
fn convert(v: &mut Value, known: &BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), json!([t, "null"]));
            }
            if let Some(Value::String(r)) = map.get("$ref").cloned() {
                let name = r.trim_start_matches("#/components/schemas/");
                if !known.contains(name) {
                    map.clear();
                    return;
                }
            }
            for (_, child) in map.iter_mut() {
                convert(child, known);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| convert(c, known)),
        _ => {}
    }
}

struct Checker {
    spec: Value,
    components: Value,
    checked: BTreeSet<String>,
}

impl Checker {
    fn new() -> Self {
        let spec = spec();
        let mut components = spec["components"].clone();
        let known: BTreeSet<String> = components["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        convert(&mut components, &known);
        Self {
            spec,
            components,
            checked: BTreeSet::new(),
        }
    }

    fn template_for(&self, path: &str) -> String {
        let segs: Vec<&str> = path.split('/').collect();
        // The most specific template wins (`scan/start` over `scan/{scanId}`).
        self.spec["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                ts.len() == segs.len()
                    && ts
                        .iter()
                        .zip(&segs)
                        .all(|(a, b)| a.starts_with('{') || a == b)
            })
            .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
            .unwrap_or_else(|| panic!("no operation in the spec for {path}"))
            .clone()
    }

    fn validate_body(&self, schema: &Value, body: &Value) -> Result<(), String> {
        let mut known = BTreeSet::new();
        for k in self.components["schemas"].as_object().unwrap().keys() {
            known.insert(k.clone());
        }
        let mut schema = schema.clone();
        convert(&mut schema, &known);
        let root = json!({"components": self.components, "allOf": [schema]});
        let validator = jsonschema::draft4::new(&root).map_err(|e| e.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn check(&mut self, method: &str, path: &str, status: u16, body: &[u8]) {
        let template = self.template_for(path.split('?').next().unwrap());
        let op = &self.spec["paths"][&template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the spec");
        let resp = &op["responses"][status.to_string()];
        let schema = resp["content"]["application/json"]["schema"].clone();
        assert!(
            schema.is_object(),
            "{method} {template}: the spec has no JSON schema for {status}"
        );
        let value: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        let allowed = DISCREPANCIES.iter().any(|(p, _)| *p == template);
        let schema = if allowed && schema["type"] == "array" {
            schema["items"].clone()
        } else {
            schema
        };
        if let Err(e) = self.validate_body(&schema, &value) {
            panic!("{method} {template} ({status}) does not match the spec: {e}\nbody: {value}");
        }
        self.checked.insert(format!("{method} {template}"));
    }
}

fn call(d: &Double, c: &mut Checker, token: &str, method: &str, path: &str, body: Value) -> Value {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, out) = d.respond(method, path, &bytes, Some(token));
    assert!(
        (200..300).contains(&status),
        "{method} {path} -> {status}: {}",
        String::from_utf8_lossy(&out)
    );
    c.check(method, path, status, &out);
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn every_response_the_double_serves_matches_the_spec() {
    let d = Double::start();
    d.add_project(PROJECT, "demo");
    let token = d.issue_token();
    let mut c = Checker::new();

    let (status, body) = d.respond("GET", "/client-apps", &[], None);
    c.check("GET", "/client-apps", status, &body);
    let p = call(
        &d,
        &mut c,
        &token,
        "GET",
        &format!("/project/{PROJECT}"),
        Value::Null,
    );
    assert_eq!(p["projectId"], PROJECT);

    for final_state in ["completed", "failed"] {
        d.set_scan_mode(ScanMode::Finishes(final_state));
        let started = call(
            &d,
            &mut c,
            &token,
            "POST",
            &format!("/project/{PROJECT}/scan/start"),
            json!({"branch": "main", "sourceType": "cli"}),
        );
        let sid = started["scanId"].as_str().unwrap().to_owned();
        let url = started["url"].as_str().unwrap();
        let upload_path = &url[url.find("/__upload/").unwrap()..];
        let (status, _) = d.respond("PUT", upload_path, b"PK\x05\x06", None);
        assert_eq!(status, 200);
        let mut states = Vec::new();
        for _ in 0..3 {
            let s = call(
                &d,
                &mut c,
                &token,
                "GET",
                &format!("/project/{PROJECT}/scan/{sid}"),
                Value::Null,
            );
            states.push(s["state"].as_str().unwrap().to_owned());
        }
        assert_eq!(states, vec!["queued", "running", final_state]);

        for mode in [
            EvaluationMode::NotStarted,
            EvaluationMode::Failed,
            EvaluationMode::Completed(vec![
                sample_violation(PROJECT, &sid, "BLOCK", false),
                sample_violation(PROJECT, &sid, "WARN", true),
            ]),
        ] {
            d.set_evaluation(mode);
            for _ in 0..2 {
                call(
                    &d,
                    &mut c,
                    &token,
                    "GET",
                    &format!("/projects/{PROJECT}/scans/{sid}/evaluation-status"),
                    Value::Null,
                );
            }
            let v = call(
                &d,
                &mut c,
                &token,
                "GET",
                &format!("/projects/{PROJECT}/scans/{sid}/violations?page=1&limit=50"),
                Value::Null,
            );
            assert!(v["violations"].is_array());
        }
    }

    // Results of every type, with and without filters, on several pages.
    let many: Vec<Value> = (0..30)
        .map(|i| cybedefend_platform_double::sample_finding("sast", 100 + i, "high", "to_verify"))
        .collect();
    d.set_findings(PROJECT, "sast", many);
    for kind in RESULT_TYPES {
        for query in [
            "pageNumber=1&pageSizeNumber=100&severity%5B%5D=critical&severity%5B%5D=high&status%5B%5D=to_verify&status%5B%5D=confirmed",
            "pageNumber=2&pageSizeNumber=10&page=2&limit=10",
            "pageNumber=1&pageSizeNumber=20&branch=main",
        ] {
            call(
                &d,
                &mut c,
                &token,
                "GET",
                &format!("/project/{PROJECT}/results/{kind}?{query}"),
                Value::Null,
            );
        }
    }

    for kind in ["sast", "iac", "secret", "cicd"] {
        let v = call(
            &d,
            &mut c,
            &token,
            "GET",
            &format!(
                "/project/{PROJECT}/results/{kind}/grouped?page=1&perPage=2&order=DESC&sort=occurrenceCount"
            ),
            Value::Null,
        );
        assert!(v["groupedVulnerabilities"].is_array());
    }

    let expected: BTreeSet<String> = [
        "GET /project/{projectId}/results/sast/grouped",
        "GET /project/{projectId}/results/iac/grouped",
        "GET /project/{projectId}/results/secret/grouped",
        "GET /project/{projectId}/results/cicd/grouped",
        "GET /client-apps",
        "GET /project/{projectId}",
        "POST /project/{projectId}/scan/start",
        "GET /project/{projectId}/scan/{scanId}",
        "GET /projects/{projectId}/scans/{scanId}/evaluation-status",
        "GET /projects/{projectId}/scans/{scanId}/violations",
        "GET /project/{projectId}/results/sast",
        "GET /project/{projectId}/results/sca",
        "GET /project/{projectId}/results/iac",
        "GET /project/{projectId}/results/secret",
        "GET /project/{projectId}/results/cicd",
        "GET /project/{projectId}/results/container",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(
        c.checked, expected,
        "every route of the double is validated"
    );
}

#[test]
fn the_validator_catches_drift() {
    let mut c = Checker::new();
    // A scan status without `state` and with a string progress is not what the spec says.
    let drifted = json!({"id": "00000000-0000-4000-8000-000000000001", "name": "x", "language": [], "projectId": PROJECT,
        "private": false, "createAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "containers": [],
        "progress": "50", "step": "x"});
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.check(
            "GET",
            &format!("/project/{PROJECT}/scan/abc"),
            200,
            drifted.to_string().as_bytes(),
        );
    }));
    assert!(result.is_err(), "a drifted body must fail validation");
    // and the results page wrapper must keep its required fields
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.check(
            "GET",
            &format!("/project/{PROJECT}/results/sast"),
            200,
            json!({"vulnerabilities": []}).to_string().as_bytes(),
        );
    }));
    assert!(result.is_err());
}
