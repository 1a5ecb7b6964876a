//! Every response body the double serves is validated against the platform's OpenAPI spec.

use std::collections::BTreeSet;

use cybedefend_platform_double::routes::ROUTES;
use cybedefend_platform_double::{
    Double, EvaluationMode, ORG_ID, RESULT_TYPES, ScanMode, TEAM_ID, sample_violation,
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
    (
        "/team/{teamId}/members",
        "spec: `users` items are declared as arrays (a broken schema); the API sends member objects `{id, firstName, lastName, email, picture, role}` (validated as objects)",
    ),
];
// Where the double follows the official CLI rather than the spec's request shapes: `PUT
// /team/{teamId}` accepts a partial body (the official CLI sends only the fields given), and
// `POST /team/{teamId}/project` accepts `autoFixEnabled`. `GET /organization/{id}/teams` can also
// answer `{"teams": [...]}` (`set_teams_wrapped`), which the official CLI reads; its default is
// the spec's array.
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
        assert!(
            resp.is_object(),
            "{method} {template}: the spec does not declare status {status}"
        );
        let mut schema = resp["content"]["application/json"]["schema"].clone();
        if resp.get("content").is_none() {
            // Declared without a body schema (reports, PATs): the status is what can be checked.
            self.checked.insert(format!("{method} {template}"));
            return;
        }
        assert!(
            schema.is_object(),
            "{method} {template}: the spec has no JSON schema for {status}"
        );
        if template == "/team/{teamId}/members" {
            let fixed = json!({"$ref": "#/components/schemas/PaginatedUsersResponseDto"});
            assert_eq!(
                schema, fixed,
                "the members schema changed; revisit the discrepancy"
            );
            let mut s = self.components["schemas"]["PaginatedUsersResponseDto"].clone();
            s["properties"]["users"]["items"] =
                json!({"type": "object", "required": ["id", "email", "role"]});
            schema = s;
        }
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
    let (_, out) = call_raw(d, c, token, method, path, body);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

fn call_raw(
    d: &Double,
    c: &mut Checker,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Vec<u8>) {
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
    (status, out)
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

    management(&d, &mut c, &token);

    let mut expected: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.template))
        .collect();
    expected.insert("GET /client-apps".into());
    assert_eq!(
        c.checked, expected,
        "every route of the double is validated"
    );
}

/// Projects, teams, members, overviews, reports, compliance, registry scans, the account.
fn management(d: &Double, c: &mut Checker, token: &str) {
    let created = call(
        d,
        c,
        token,
        "POST",
        &format!("/team/{TEAM_ID}/project"),
        json!({"name": "new one", "aiMergeRequestEnabled": true}),
    );
    let new_id = created["projectId"].as_str().unwrap().to_owned();
    for page in [1, 2] {
        let v = call(
            d,
            c,
            token,
            "GET",
            &format!("/organization/{ORG_ID}/projects?page={page}&pageSize=1&search=new"),
            Value::Null,
        );
        assert!(v["projects"].is_array());
    }
    call(
        d,
        c,
        token,
        "DELETE",
        &format!("/project/{new_id}"),
        Value::Null,
    );

    let team = call(
        d,
        c,
        token,
        "POST",
        &format!("/organization/{ORG_ID}/team"),
        json!({"name": "blue", "description": "the blue team"}),
    );
    let tid = team["teamId"].as_str().unwrap().to_owned();
    call(
        d,
        c,
        token,
        "GET",
        &format!("/organization/{ORG_ID}/team/{tid}"),
        Value::Null,
    );
    let list = call(
        d,
        c,
        token,
        "GET",
        &format!("/organization/{ORG_ID}/teams"),
        Value::Null,
    );
    assert!(list.is_array(), "the spec's shape by default");
    call(
        d,
        c,
        token,
        "PUT",
        &format!("/team/{tid}"),
        json!({"name": "bluer", "description": "still blue"}),
    );
    let user = "00000000-0000-4000-8000-00000000c001";
    call(
        d,
        c,
        token,
        "POST",
        &format!("/team/{tid}/member"),
        json!({"userId": user, "role": "developer"}),
    );
    let members = call(
        d,
        c,
        token,
        "GET",
        &format!("/team/{tid}/members?page=1&pageSize=20"),
        Value::Null,
    );
    assert_eq!(members["users"][0]["id"], user);
    call(
        d,
        c,
        token,
        "PUT",
        &format!("/team/{tid}/member/role"),
        json!({"userId": user, "role": "read_only"}),
    );
    call(
        d,
        c,
        token,
        "DELETE",
        &format!("/team/{tid}/member"),
        json!({"userId": user}),
    );
    call(d, c, token, "DELETE", &format!("/team/{tid}"), Value::Null);

    call(
        d,
        c,
        token,
        "GET",
        &format!("/project/{PROJECT}/results/overview?branches=main"),
        Value::Null,
    );
    call(
        d,
        c,
        token,
        "GET",
        &format!(
            "/organization/{ORG_ID}/results/overview?severityFilter=CRITICAL&trendPeriodDays=7"
        ),
        Value::Null,
    );

    call_raw(
        d,
        c,
        token,
        "GET",
        &format!("/project/{PROJECT}/sbom"),
        Value::Null,
    );
    for format in ["json", "html", "pdf"] {
        call_raw(
            d,
            c,
            token,
            "GET",
            &format!("/project/{PROJECT}/owasp-report/{format}?detailed=true"),
            Value::Null,
        );
        call_raw(
            d,
            c,
            token,
            "GET",
            &format!("/project/{PROJECT}/cwe-report/{format}"),
            Value::Null,
        );
        call_raw(
            d,
            c,
            token,
            "GET",
            &format!("/organization/{ORG_ID}/report/owasp/{format}"),
            Value::Null,
        );
        call_raw(
            d,
            c,
            token,
            "GET",
            &format!("/team/{TEAM_ID}/report/cwe/{format}"),
            Value::Null,
        );
        call_raw(
            d,
            c,
            token,
            "POST",
            &format!("/organization/{ORG_ID}/project/report/batch/owasp/{format}"),
            json!({"projectIds": [PROJECT], "detailed": true}),
        );
    }

    call(
        d,
        c,
        token,
        "GET",
        &format!("/projects/{PROJECT}/compliance-history?page=1&pageSize=20"),
        Value::Null,
    );
    call(
        d,
        c,
        token,
        "GET",
        &format!("/projects/{PROJECT}/violations?page=1&limit=20"),
        Value::Null,
    );
    call(
        d,
        c,
        token,
        "GET",
        &format!("/projects/{PROJECT}/violation-stats"),
        Value::Null,
    );

    for seg in [
        "gitlab/container-registry",
        "github-container-registry",
        "dockerhub/container-registry",
        "gcr/container-registry",
        "ecr/container-registry",
        "acr/container-registry",
        "quay/container-registry",
        "harbor/container-registry",
        "jfrog/container-registry",
    ] {
        let v = call(
            d,
            c,
            token,
            "POST",
            &format!("/integrations/{seg}/project/{PROJECT}/scan"),
            json!({"credentialId": "cred-1", "imageName": "app:v1", "branch": "main", "privateScan": false, "severities": ["CRITICAL"]}),
        );
        assert!(v["scanId"].is_string());
    }

    let profile = call(d, c, token, "GET", "/user/profile", Value::Null);
    assert_eq!(profile["myOrganizations"][0]["id"], ORG_ID);
    call_raw(
        d,
        c,
        token,
        "POST",
        "/user/personal-access-tokens",
        json!({"name": "ci"}),
    );
    call_raw(
        d,
        c,
        token,
        "GET",
        "/user/personal-access-tokens",
        Value::Null,
    );
    call_raw(
        d,
        c,
        token,
        "PATCH",
        "/user/personal-access-tokens/name",
        json!({"name": "ci", "newName": "ci-2"}),
    );
    call_raw(
        d,
        c,
        token,
        "POST",
        "/user/personal-access-tokens/delete",
        json!({"name": "ci-2"}),
    );
}

#[test]
fn every_route_is_in_the_spec_and_ids_are_checked_before_handlers() {
    let spec = spec();
    for r in ROUTES {
        assert!(
            spec["paths"][r.template][r.method.to_ascii_lowercase()].is_object(),
            "{} {} is not in the spec",
            r.method,
            r.template
        );
    }
    let d = Double::start();
    d.add_project(PROJECT, "demo");
    let token = d.issue_token();
    d.forbid(TEAM_ID);
    let (status, _) = d.respond(
        "GET",
        &format!("/team/{TEAM_ID}/members?page=1&pageSize=5"),
        &[],
        Some(&token),
    );
    assert_eq!(status, 403);
    let (status, body) = d.respond(
        "GET",
        "/organization/00000000-0000-4000-8000-0000000000ff/teams",
        &[],
        Some(&token),
    );
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, _) = d.respond("PATCH", &format!("/project/{PROJECT}"), &[], Some(&token));
    assert_eq!(status, 405, "a known path with another method");
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
