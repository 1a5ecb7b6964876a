//! The platform API part of the double: the bearer gate, uploads, scans, results, policies.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::routes::Params;
use super::{
    EvaluationMode, Project, Recorded, Scan, ScanMode, Shared, State, UploadMode, json_response,
};

/// Result types of the platform.
pub const RESULT_TYPES: &[&str] = &["sast", "sca", "iac", "secret", "cicd", "container"];

pub(super) fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// One finding as the results endpoints return it: the `base` wrapper the live API uses.
pub fn sample_finding(kind: &str, n: u64, severity: &str, state: &str) -> serde_json::Value {
    let mut v = json!({
        "base": {
            "id": uuid(0x1000 + n),
            "currentSeverity": severity,
            "currentState": state,
            "currentPriority": "urgent",
            "language": if kind == "sca" { "npm" } else { "javascript" },
            "path": format!("src/{kind}/file{n}.js"),
            "vulnerableStartLine": 10 + n,
            "vulnerableEndLine": 12 + n,
            "branch": "main",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "vulnerability": {
                "name": format!("{kind} issue {n} <script>&"),
                "description": format!("**Bold** description of {kind} issue {n}.\n\nSee `code`."),
                "severity": severity.to_ascii_uppercase(),
                "howToPrevent": "Validate input.\n\n```js\nescape(x)\n```",
                "cwe": ["CWE-79"],
                "owaspTop10": ["A03:2021"],
                "vulnerabilityType": kind
            }
        }
    });
    if kind == "sca" {
        v["base"]["vulnerability"]["name"] = json!("");
        v["metadata"] = json!({"ghsaId": format!("GHSA-{n:04}"), "summary": format!("Prototype pollution {n}"), "details": "Upgrade.", "cwes": [{"cweId": "CWE-1321"}]});
        v["library"] = json!({"packageName": "lodash", "packageVersion": "4.17.20", "ecosystem": "npm", "path": ["package.json"]});
        v["autofixRecords"] = json!([{"vulnerablePackage": "lodash", "recommendedProposedVersion": "4.17.21", "hasFixAvailable": true}]);
    }
    v
}

/// The default findings of a new project: sast has one of each severity plus a resolved
/// critical; the other types one medium or low each; cicd none.
pub fn sample_findings(kind: &str) -> Vec<serde_json::Value> {
    match kind {
        "sast" => vec![
            sample_finding(kind, 1, "critical", "to_verify"),
            sample_finding(kind, 2, "high", "confirmed"),
            sample_finding(kind, 3, "medium", "to_verify"),
            sample_finding(kind, 4, "low", "to_verify"),
            sample_finding(kind, 5, "critical", "resolved"),
        ],
        "sca" => vec![sample_finding(kind, 6, "medium", "to_verify")],
        "iac" => vec![sample_finding(kind, 7, "low", "to_verify")],
        "secret" => vec![sample_finding(kind, 8, "medium", "to_verify")],
        "container" => vec![sample_finding(kind, 9, "low", "to_verify")],
        _ => Vec::new(),
    }
}

/// A policy violation as the API returns it.
pub fn sample_violation(
    project: &str,
    scan: &str,
    action: &str,
    acknowledged: bool,
) -> serde_json::Value {
    json!({
        "id": uuid(0x2000),
        "policyId": uuid(0x2001),
        "projectId": project,
        "scanId": scan,
        "organizationId": uuid(0x2002),
        "actionTaken": action,
        "affectedVulnerabilitiesCount": 2,
        "rule": {"id": uuid(0x2003), "name": "No critical findings", "description": "Critical findings block the build", "type": "severity", "value": {"min": "critical"}, "action": action, "operator": "gte"},
        "affectedVulnerabilities": [
            {"id": uuid(0x1001), "name": "sast issue 1", "severity": "critical", "vulnerabilityType": "sast", "filePath": "src/sast/file1.js", "startLine": 11, "endLine": 13},
            {"id": uuid(0x1006), "name": "Prototype pollution", "severity": "critical", "vulnerabilityType": "sca", "packageName": "lodash", "packageVersion": "4.17.20"}
        ],
        "acknowledged": acknowledged,
        "acknowledgementReason": if acknowledged { "accepted risk" } else { "" },
        "createdAt": "2026-01-15T10:30:00Z",
        "updatedAt": "2026-01-15T10:30:00Z"
    })
}

pub(super) fn error_body(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"message": message, "statusCode": status.as_u16(), "timestamp": "2026-01-01T00:00:00.000Z", "path": "/"}),
    )
}

/// Bearer check and injected failures for every API route.
pub(super) fn api_gate(shared: &Shared, req: &Recorded) -> Option<Response> {
    let mut s = shared.lock();
    if !s.api_failures.is_empty() && s.api_failures[0] == 200 {
        // 200: this call passes; the next entries fail the calls after it.
        s.api_failures.remove(0);
    } else if !s.api_failures.is_empty() {
        let code = s.api_failures.remove(0);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = error_body(status, "injected failure");
        if code == 429
            && let Ok(v) = header::HeaderValue::from_str(&s.retry_after)
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Some(resp);
    }
    let token = req
        .headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let accepted = match &s.accept_any_but {
        Some(rejected) => !token.is_empty() && !rejected.contains(token),
        None => s.issued.contains(token),
    };
    if !accepted {
        return Some(error_body(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    None
}

pub(super) fn upload(shared: &Shared, req: &Recorded) -> Response {
    if req.method != "PUT" {
        return error_body(StatusCode::METHOD_NOT_ALLOWED, "PUT only");
    }
    if req.headers.contains_key("authorization") {
        return (StatusCode::BAD_REQUEST, "<Error><Code>InvalidArgument</Code><Message>Authorization header not allowed with a signed URL</Message></Error>").into_response();
    }
    if !req.query.iter().any(|(k, _)| k == "X-Goog-Signature") {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code></Error>",
        )
            .into_response();
    }
    let mut s = shared.lock();
    match s.upload_mode.clone() {
        UploadMode::Expired => {
            return (StatusCode::FORBIDDEN, "<Error><Code>ExpiredToken</Code><Message>Invalid argument: expired</Message></Error>").into_response();
        }
        UploadMode::FailTimes(n) if n > 0 => {
            s.upload_mode = UploadMode::FailTimes(n - 1);
            return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
        }
        UploadMode::TooMany(n) if n > 0 => {
            s.upload_mode = UploadMode::TooMany(n - 1);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, "1")],
                "slow down",
            )
                .into_response();
        }
        UploadMode::Ok
        | UploadMode::FailTimes(_)
        | UploadMode::TooMany(_)
        | UploadMode::Stall(_)
        | UploadMode::Throttle(_) => {}
    }
    let declared = req
        .headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    if declared != Some(req.body.len()) {
        return (
            StatusCode::BAD_REQUEST,
            "<Error><Code>MissingContentLength</Code></Error>",
        )
            .into_response();
    }
    let sid = req.path.trim_start_matches("/__upload/").to_owned();
    match s.scans.get_mut(&sid) {
        Some(scan) => {
            scan.uploaded = Some(req.body.clone());
            (StatusCode::OK, "").into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "<Error><Code>NoSuchUpload</Code></Error>",
        )
            .into_response(),
    }
}

pub(super) fn query_all<'a>(req: &'a Recorded, key: &str) -> Vec<&'a str> {
    req.query
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

pub(super) fn query_num(req: &Recorded, keys: &[&str], default: u64) -> u64 {
    keys.iter()
        .find_map(|k| query_all(req, k).first().and_then(|v| v.parse().ok()))
        .unwrap_or(default)
}

/// Findings whose severity, state and branch are among the requested ones (an empty filter
/// keeps everything). Items may carry the `base` wrapper or not.
fn matching<'a>(
    findings: Option<&'a std::sync::Arc<Vec<serde_json::Value>>>,
    severities: &[&str],
    states: &[&str],
    branches: &[&str],
) -> Vec<&'a serde_json::Value> {
    kept_indices(findings, severities, states, branches)
        .into_iter()
        .filter_map(|i| findings.and_then(|v| v.get(i)))
        .collect()
}

/// The positions of the findings a filter keeps.
fn kept_indices(
    findings: Option<&std::sync::Arc<Vec<serde_json::Value>>>,
    severities: &[&str],
    states: &[&str],
    branches: &[&str],
) -> Vec<usize> {
    let keep = |filter: &[&str], v: &serde_json::Value| {
        filter.is_empty() || filter.contains(&v.as_str().unwrap_or(""))
    };
    findings
        .into_iter()
        .flat_map(|v| v.iter().enumerate())
        .filter(|(_, f)| {
            let b = if f.get("base").is_some() {
                &f["base"]
            } else {
                f
            };
            keep(severities, &b["currentSeverity"])
                && keep(states, &b["currentState"])
                && keep(branches, &b["branch"])
        })
        .map(|(i, _)| i)
        .collect()
}

fn project_of<'a>(s: &'a State, p: &Params) -> &'a Project {
    // The gate has checked that the project exists.
    &s.projects[p.get("projectId")]
}

pub(super) fn project_get(s: &mut State, _: &Recorded, p: &Params) -> Response {
    let pid = p.get("projectId");
    let project = project_of(s, p);
    json_response(
        StatusCode::OK,
        // ProjectInformationsResponseDto
        json!({
            "projectId": pid,
            "teamId": project.team,
            "teamName": s.teams.get(&project.team).map_or("Double team", |t| t.name.as_str()),
            "name": project.name,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-02T00:00:00.000Z",
            "riskScore": 42,
            "riskLevel": "medium",
            "applicationType": "web_application",
            "analysisFrequency": "never",
            "sastEnabled": true,
            "scaEnabled": true,
            "sastSeverities": ["critical", "high", "medium", "low"]
        }),
    )
}

pub(super) fn scan_start(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let project_id = p.get("projectId").to_owned();
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    if body.get("sourceType").is_some_and(|t| {
        !["manual", "cli", "github", "gitlab", "jetbrains", "vscode"]
            .contains(&t.as_str().unwrap_or(""))
    }) {
        return error_body(
            StatusCode::BAD_REQUEST,
            "sourceType must be one of the allowed values",
        );
    }
    let sid = new_scan(s, &project_id, None);
    let url = format!(
        "{}/__upload/{sid}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=deadbeef&X-Goog-Expires=900",
        s.upload_base.as_deref().unwrap_or(&s.base_url)
    );
    json_response(
        StatusCode::OK,
        json!({"success": true, "message": "Scan started", "scanId": sid, "detectedLanguages": ["javascript"], "url": url}),
    )
}

/// Registers a scan; `uploaded` is set for scans that need no upload (container images).
pub(super) fn new_scan(s: &mut State, project: &str, uploaded: Option<Vec<u8>>) -> String {
    let n = s.scans.len() as u64 + 1;
    let sid = uuid(0x5000 + n);
    s.scans.insert(
        sid.clone(),
        Scan {
            project: project.to_owned(),
            polls: 0,
            uploaded,
        },
    );
    sid
}

pub(super) fn scan_status(s: &mut State, _: &Recorded, p: &Params) -> Response {
    let project_id = p.get("projectId").to_owned();
    let sid = p.get("scanId");
    if s.malformed_status {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"state\": \"running\", ",
        )
            .into_response();
    }
    let n: usize = project_of(s, p).findings.values().map(|v| v.len()).sum();
    let mode = s.scan_mode.clone();
    let Some(scan) = s.scans.get_mut(sid).filter(|sc| sc.project == project_id) else {
        return error_body(StatusCode::NOT_FOUND, "Scan not found");
    };
    scan.polls += 1;
    let (state, progress, step) = match (&mode, scan.polls, scan.uploaded.is_some()) {
        (_, _, false) | (_, 1, _) => ("queued", 0, "waiting for upload"),
        (ScanMode::NeverFinishes, _, _) | (_, 2, _) => ("running", 50, "analysing"),
        (ScanMode::Finishes(state), _, _) => (*state, 100, "done"),
    };
    let mut v = json!({
        "id": sid, "name": "cli scan", "state": state, "language": ["javascript"],
        "projectId": project_id, "private": false, "createAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:10.000Z", "containers": [], "progress": progress,
        "step": step, "scanType": "sast"
    });
    if state != "queued" && state != "running" {
        v["vulnerabilityDetected"] = json!(n);
    }
    if state == "failed" {
        v["errorMessage"] = json!("analysis crashed");
        v["errorCode"] = json!(500);
        v["errorCategory"] = json!("internal");
    }
    json_response(StatusCode::OK, v)
}

/// The result type in a path `/project/{id}/results/{kind}[/grouped]`.
fn result_kind(req: &Recorded) -> String {
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    parts.get(3).copied().unwrap_or("").to_owned()
}

pub(super) fn results_grouped(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let project_id = p.get("projectId");
    let project = project_of(s, p);
    let kind = result_kind(req);
    let sevs = query_all(req, "severityFilter[]");
    let states = query_all(req, "statusFilter[]");
    let all = matching(project.findings.get(&kind), &sevs, &states, &[]);
    let mut groups: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    for f in all {
        let name = f["base"]["vulnerability"]["name"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(f.clone()),
            None => groups.push((name, vec![f.clone()])),
        }
    }
    let page = query_num(req, &["page"], 1).max(1);
    let per_page = query_num(req, &["perPage"], 10).clamp(1, 100);
    let total = groups.len() as u64;
    let total_pages = total.div_ceil(per_page);
    let occurrences: usize = groups.iter().map(|(_, v)| v.len()).sum();
    let items: Vec<serde_json::Value> = groups
        .into_iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .map(|(name, fs)| {
            let mut breakdown = json!({"critical": 0, "high": 0, "medium": 0, "low": 0});
            for f in &fs {
                let sev = f["base"]["currentSeverity"].as_str().unwrap_or("low").to_owned();
                breakdown[&sev] = json!(breakdown[&sev].as_u64().unwrap_or(0) + 1);
            }
            let highest = ["critical", "high", "medium", "low"].into_iter().find(|s| breakdown[*s].as_u64().unwrap_or(0) > 0).unwrap_or("low");
            json!({
                "ruleId": name, "vulnerability": fs[0]["base"]["vulnerability"], "occurrenceCount": fs.len(),
                "severityBreakdown": breakdown, "highestSeverity": highest, "language": "javascript",
                "occurrences": fs.iter().map(|f| json!({
                    "id": f["base"]["id"], "path": f["base"]["path"], "vulnerableStartLine": f["base"]["vulnerableStartLine"],
                    "vulnerableEndLine": f["base"]["vulnerableEndLine"], "currentState": f["base"]["currentState"],
                    "currentSeverity": f["base"]["currentSeverity"], "currentPriority": "urgent", "createdAt": "2026-01-01T00:00:00Z"
                })).collect::<Vec<_>>(),
                "hasAutofix": false, "firstSeen": "2026-01-01T00:00:00Z", "lastSeen": "2026-01-02T00:00:00Z"
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "projectId": project_id, "projectName": project.name, "page": page, "limit": per_page,
            "totalPages": total_pages, "sort": "occurrenceCount", "order": "DESC",
            "severity": query_all(req, "severityFilter[]"), "status": query_all(req, "statusFilter[]"),
            "priority": query_all(req, "priorityFilter[]"), "groupedVulnerabilities": items,
            "total": total, "totalOccurrences": occurrences
        }),
    )
}

pub(super) fn results_flat(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let project_id = p.get("projectId");
    let project = project_of(s, p);
    let kind = result_kind(req);
    let kind = kind.as_str();
    let sevs = query_all(req, "severity[]");
    let states = query_all(req, "status[]");
    let branch = query_all(req, "branch");
    let all = project.findings.get(kind);
    let key = format!("{kind}|{sevs:?}|{states:?}|{branch:?}");
    let cached = project
        .filtered
        .lock()
        .ok()
        .and_then(|c| c.get(&key).cloned());
    let kept = cached.unwrap_or_else(|| {
        let idx = std::sync::Arc::new(kept_indices(all, &sevs, &states, &branch));
        if let Ok(mut c) = project.filtered.lock() {
            c.insert(key, idx.clone());
        }
        idx
    });
    let page_keys: &[&str] = if matches!(kind, "container" | "sca") {
        &["page", "pageNumber"]
    } else {
        &["pageNumber"]
    };
    let size_keys: &[&str] = if matches!(kind, "container" | "sca") {
        &["limit", "pageSizeNumber"]
    } else {
        &["pageSizeNumber"]
    };
    let page = query_num(req, page_keys, 1).max(1);
    // 25 at most unless set otherwise
    let limit = query_num(req, size_keys, 20).clamp(10, s.page_cap);
    let total = kept.len() as u64;
    let total_pages = total.div_ceil(limit);
    let items: Vec<serde_json::Value> = kept
        .iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .filter_map(|i| all?.get(*i).cloned())
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "projectId": project_id, "projectName": project.name, "page": page, "limit": limit,
            "totalPages": total_pages, "sort": "currentSeverity", "order": "asc",
            "severity": if sevs.is_empty() { vec!["critical", "high", "medium", "low"] } else { sevs.clone() },
            "status": states, "priority": query_all(req, "priority[]"),
            "vulnerabilities": items, "total": total
        }),
    )
}

pub(super) fn evaluation_status(s: &mut State, req: &Recorded, p: &Params) -> Response {
    if !s.scans.contains_key(p.get("scanId")) {
        return error_body(StatusCode::NOT_FOUND, "Scan not found");
    }
    let polls = s.requests.iter().filter(|r| r.path == req.path).count();
    let (status, progress, message) = match &s.evaluation {
        EvaluationMode::NotStarted => ("NOT_STARTED", 0, "No policies configured"),
        EvaluationMode::Failed => ("FAILED", 100, "policy engine error"),
        EvaluationMode::Stuck => ("IN_PROGRESS", 40, "evaluating"),
        EvaluationMode::Completed(_) if polls <= 1 => ("IN_PROGRESS", 50, "evaluating"),
        EvaluationMode::Completed(_) => ("COMPLETED", 100, "done"),
    };
    json_response(
        StatusCode::OK,
        json!({"hasEvaluation": true, "evaluationId": uuid(0x3000), "status": status, "progress": progress,
               "message": message, "startedAt": "2026-01-01T00:00:00Z"}),
    )
}

/// The violations of the current evaluation, one page (`page`, `limit` up to 50).
fn violation_page(s: &State, req: &Recorded) -> Response {
    let all = match &s.evaluation {
        EvaluationMode::Completed(v) => v.clone(),
        _ => Vec::new(),
    };
    let page = query_num(req, &["page"], 1).max(1);
    let limit = query_num(req, &["limit"], 50).clamp(1, 50);
    let items: Vec<serde_json::Value> = all
        .iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .cloned()
        .collect();
    json_response(
        StatusCode::OK,
        json!({"violations": items, "total": all.len(), "page": page, "limit": limit}),
    )
}

pub(super) fn scan_violations(s: &mut State, req: &Recorded, p: &Params) -> Response {
    if !s.scans.contains_key(p.get("scanId")) {
        return error_body(StatusCode::NOT_FOUND, "Scan not found");
    }
    violation_page(s, req)
}

pub(super) fn project_violations(s: &mut State, req: &Recorded, _: &Params) -> Response {
    violation_page(s, req)
}
