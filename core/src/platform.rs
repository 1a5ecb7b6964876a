//! Typed platform calls used by `scan` and `results`, tolerant of the places where the
//! OpenAPI spec and the live API (as the official CLI reads it) disagree: the pre-signed `url`
//! missing from the spec, results items wrapped in `base` or not, numbers sent as strings.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, seg};
use crate::error::{Error, Result};

/// Result types in the order reports list them.
pub const RESULT_TYPES: &[&str] = &["sast", "sca", "iac", "secret", "cicd", "container"];

/// Severities from most to least severe.
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low"];

/// States that no longer count as open findings.
pub const CLOSED_STATES: &[&str] = &["resolved", "not_exploitable", "ignored"];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What scan start returned.
#[derive(Debug, Clone)]
pub struct StartedScan {
    /// The scan's id.
    pub scan_id: String,
    /// Pre-signed URL for the archive.
    pub upload_url: String,
}

/// `POST /project/{id}/scan/start`.
pub async fn start_scan(api: &Api<'_>, project: &str, branch: Option<&str>) -> Result<StartedScan> {
    let mut body = json!({"sourceType": "cli"});
    if let Some(b) = branch.filter(|b| !b.is_empty()) {
        body["branch"] = json!(b);
    }
    let path = format!("/project/{}/scan/start", seg(project));
    let v = api
        .json("scan start", Method::POST, &path, &[], Some(&body))
        .await?;
    let scan_id = v.get("scanId").and_then(text);
    let url = ["url", "uploadUrl", "signedUrl"]
        .iter()
        .find_map(|k| v.get(*k).and_then(text));
    match (scan_id, url) {
        (Some(scan_id), Some(upload_url)) => Ok(StartedScan {
            scan_id,
            upload_url,
        }),
        _ => {
            let msg = v.get("message").and_then(text).unwrap_or_default();
            Err(Error::failure(format!(
                "scan start: the answer has no scan id or upload URL{}",
                if msg.is_empty() {
                    String::new()
                } else {
                    format!(" ({msg})")
                }
            )))
        }
    }
}

/// A scan's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanStatus {
    /// `queued`, `running`, `completed`, `completed_degraded`, `failed` (lower-case).
    pub state: String,
    /// 0 to 100.
    pub progress: f64,
    /// What the scan is doing.
    pub step: String,
    /// Findings reported by the scan, if known.
    pub vulnerabilities_detected: Option<i64>,
    /// Why it failed, if it did.
    pub error_message: Option<String>,
}

impl ScanStatus {
    /// Whether the scan has stopped.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.state.as_str(),
            "completed" | "completed_degraded" | "failed"
        )
    }
}

/// `GET /project/{id}/scan/{scanId}`.
pub async fn scan_status(api: &Api<'_>, project: &str, scan: &str) -> Result<ScanStatus> {
    let path = format!("/project/{}/scan/{}", seg(project), seg(scan));
    let v = api
        .json("scan status", Method::GET, &path, &[], None)
        .await?;
    let state = v
        .get("state")
        .and_then(text)
        .map(|s| s.to_ascii_lowercase())
        .ok_or_else(|| Error::failure("scan status: the answer has no `state`"))?;
    Ok(ScanStatus {
        state,
        progress: v.get("progress").and_then(number).unwrap_or(0.0),
        step: v.get("step").and_then(text).unwrap_or_default(),
        vulnerabilities_detected: v
            .get("vulnerabilityDetected")
            .and_then(number)
            .map(|n| n as i64),
        error_message: v.get("errorMessage").and_then(text),
    })
}

/// One finding, normalised across result types and response shapes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Finding id.
    pub id: String,
    /// Result type (`sast`, `sca`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Rule or vulnerability name.
    pub name: String,
    /// Description (markdown).
    pub description: String,
    /// `critical`, `high`, `medium`, `low` or what the API said, lower-case.
    pub severity: String,
    /// `to_verify`, `confirmed`, ...
    pub state: String,
    /// Language or ecosystem.
    pub language: String,
    /// File path, or `package@version` for dependencies.
    pub path: String,
    /// First line.
    pub start_line: Option<u64>,
    /// Last line.
    pub end_line: Option<u64>,
    /// Branch.
    pub branch: String,
    /// How to fix (markdown).
    pub how_to_prevent: String,
    /// CWE ids.
    pub cwe: Vec<String>,
    /// OWASP Top 10 tags.
    pub owasp_top10: Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(text).collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Normalises one item of a results page (`{base: {...}, ...}` or the fields at top level).
pub fn finding(kind: &str, item: &Value) -> Finding {
    let base = item.get("base").filter(|b| b.is_object()).unwrap_or(item);
    let details = base.get("vulnerability").unwrap_or(&Value::Null);
    let get = |k: &str| base.get(k).and_then(text).unwrap_or_default();
    let mut f = Finding {
        id: get("id"),
        kind: kind.to_owned(),
        name: details.get("name").and_then(text).unwrap_or_default(),
        description: details
            .get("description")
            .and_then(text)
            .unwrap_or_default(),
        severity: base
            .get("currentSeverity")
            .and_then(text)
            .or_else(|| details.get("severity").and_then(text))
            .unwrap_or_default()
            .to_ascii_lowercase(),
        state: get("currentState").to_ascii_lowercase(),
        language: get("language"),
        path: get("path"),
        start_line: base
            .get("vulnerableStartLine")
            .and_then(number)
            .map(|n| n as u64),
        end_line: base
            .get("vulnerableEndLine")
            .and_then(number)
            .map(|n| n as u64),
        branch: get("branch"),
        how_to_prevent: details
            .get("howToPrevent")
            .and_then(text)
            .unwrap_or_default(),
        cwe: strings(details.get("cwe")),
        owasp_top10: strings(details.get("owaspTop10")),
    };
    // Dependency findings: the name and fix live in `metadata`, `library`, `autofixRecords`.
    if let Some(meta) = item.get("metadata").filter(|m| m.is_object()) {
        if f.name.is_empty() {
            f.name = meta
                .get("summary")
                .and_then(text)
                .or_else(|| meta.get("ghsaId").and_then(text))
                .unwrap_or_default();
        }
        if f.description.is_empty() {
            f.description = meta.get("details").and_then(text).unwrap_or_default();
        }
        if f.cwe.is_empty()
            && let Some(Value::Array(cwes)) = meta.get("cwes")
        {
            f.cwe = cwes
                .iter()
                .filter_map(|c| c.get("cweId").and_then(text))
                .collect();
        }
    }
    if let Some(lib) = item.get("library").filter(|l| l.is_object()) {
        if let (Some(p), Some(v)) = (
            lib.get("packageName").and_then(text),
            lib.get("packageVersion").and_then(text),
        ) {
            f.path = format!("{p}@{v}");
        }
        if let Some(eco) = lib.get("ecosystem").and_then(text) {
            f.language = eco;
        }
    }
    if f.how_to_prevent.is_empty()
        && let Some(Value::Array(fixes)) = item.get("autofixRecords")
        && let Some(first) = fixes.first()
    {
        if let Some(cmd) = first.get("installCommand").and_then(text) {
            f.how_to_prevent = format!("Run: `{cmd}`");
        } else if let (Some(p), Some(v)) = (
            first.get("vulnerablePackage").and_then(text),
            first.get("recommendedProposedVersion").and_then(text),
        ) {
            f.how_to_prevent = format!("Update {p} to version {v} or later.");
        }
    }
    f
}

/// One page of flat results.
#[derive(Debug, Clone)]
pub struct ResultsPage {
    /// Project name.
    pub project_name: String,
    /// This page (1-based).
    pub page: u64,
    /// Pages in all.
    pub total_pages: u64,
    /// Findings in all.
    pub total: u64,
    /// The findings.
    pub findings: Vec<Finding>,
}

/// Filters of a results query.
#[derive(Debug, Clone, Default)]
pub struct ResultsQuery {
    /// Only this branch.
    pub branch: Option<String>,
    /// Only these severities (empty: all four).
    pub severities: Vec<String>,
    /// Only open findings (`to_verify`, `confirmed`); otherwise every state.
    pub open_only: bool,
}

/// `GET /project/{id}/results/{type}` for one page.
pub async fn results_page(
    api: &Api<'_>,
    project: &str,
    kind: &str,
    page: u64,
    per_page: u64,
    q: &ResultsQuery,
) -> Result<ResultsPage> {
    let mut query: Vec<(String, String)> = vec![
        ("order".into(), "asc".into()),
        ("sort".into(), "currentSeverity".into()),
        ("pageNumber".into(), page.to_string()),
        ("pageSizeNumber".into(), per_page.to_string()),
    ];
    if matches!(kind, "container" | "sca") {
        // The spec names these two endpoints' paging `page` / `limit`.
        query.push(("page".into(), page.to_string()));
        query.push(("limit".into(), per_page.to_string()));
    }
    let sevs: Vec<String> = if q.severities.is_empty() {
        SEVERITIES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        q.severities.clone()
    };
    for s in sevs {
        query.push(("severity[]".into(), s));
    }
    for p in ["critical_urgent", "urgent", "normal", "low", "very_low"] {
        query.push(("priority[]".into(), p.into()));
    }
    if q.open_only {
        query.push(("status[]".into(), "to_verify".into()));
        query.push(("status[]".into(), "confirmed".into()));
    }
    if let Some(b) = q.branch.as_deref().filter(|b| !b.is_empty()) {
        query.push(("branch".into(), b.to_owned()));
    }
    let path = format!("/project/{}/results/{kind}", seg(project));
    let what = format!("{kind} results");
    let v = api.json(&what, Method::GET, &path, &query, None).await?;
    // The spec declares an array of pages; the API answers one page object.
    let v = match v {
        Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    };
    let items = match v.get("vulnerabilities") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            return Err(Error::failure(format!(
                "{what}: `vulnerabilities` in the answer is not a list"
            )));
        }
    };
    Ok(ResultsPage {
        project_name: v.get("projectName").and_then(text).unwrap_or_default(),
        page: v.get("page").and_then(number).map_or(page, |n| n as u64),
        total_pages: v.get("totalPages").and_then(number).map_or(0, |n| n as u64),
        total: v
            .get("total")
            .and_then(number)
            .map_or(items.len() as u64, |n| n as u64),
        findings: items.iter().map(|i| finding(kind, i)).collect(),
    })
}

/// Every page of one type. `on_page` is called after each page (progress).
pub async fn all_results(
    api: &Api<'_>,
    project: &str,
    kind: &str,
    q: &ResultsQuery,
) -> Result<(String, Vec<Finding>)> {
    let mut page = 1;
    let mut out = Vec::new();
    let mut name = String::new();
    loop {
        let p = results_page(api, project, kind, page, 100, q).await?;
        if name.is_empty() {
            name = p.project_name.clone();
        }
        let empty = p.findings.is_empty();
        out.extend(p.findings);
        if empty || page >= p.total_pages || page >= 10_000 {
            break;
        }
        page += 1;
    }
    Ok((name, out))
}

/// Policy evaluation status.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Whether the scan has an evaluation.
    pub has_evaluation: bool,
    /// `PENDING`, `IN_PROGRESS`, `COMPLETED`, `FAILED`, `NOT_STARTED`.
    pub status: String,
    /// 0 to 100.
    pub progress: f64,
    /// Server message.
    pub message: String,
}

/// `GET /projects/{id}/scans/{scanId}/evaluation-status`.
pub async fn evaluation_status(api: &Api<'_>, project: &str, scan: &str) -> Result<Evaluation> {
    let path = format!(
        "/projects/{}/scans/{}/evaluation-status",
        seg(project),
        seg(scan)
    );
    let v = api
        .json("policy evaluation status", Method::GET, &path, &[], None)
        .await?;
    Ok(Evaluation {
        has_evaluation: v
            .get("hasEvaluation")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        status: v
            .get("status")
            .and_then(text)
            .unwrap_or_default()
            .to_ascii_uppercase(),
        progress: v.get("progress").and_then(number).unwrap_or(0.0),
        message: v.get("message").and_then(text).unwrap_or_default(),
    })
}

/// A policy violation.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Rule name.
    pub rule: String,
    /// Rule description, or `type value`.
    pub description: String,
    /// `BLOCK` or `WARN`.
    pub action: String,
    /// Acknowledged by a person.
    pub acknowledged: bool,
    /// Why it was acknowledged.
    pub acknowledgement_reason: String,
    /// Findings that broke the rule.
    pub affected_count: u64,
    /// Some of them: severity, name, location, id, type.
    pub affected: Vec<AffectedFinding>,
    /// Project id (for links).
    pub project_id: String,
}

/// A finding named by a violation.
#[derive(Debug, Clone)]
pub struct AffectedFinding {
    /// Finding id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Severity.
    pub severity: String,
    /// `path (Lx-y)` or `package@version`.
    pub location: String,
    /// Result type for links.
    pub kind: String,
}

impl Violation {
    /// A `BLOCK` nobody acknowledged.
    pub fn is_blocking(&self) -> bool {
        self.action.eq_ignore_ascii_case("BLOCK") && !self.acknowledged
    }
}

fn violation(v: &Value) -> Violation {
    let rule = v.get("rule").unwrap_or(&Value::Null);
    let desc = rule.get("description").and_then(text).unwrap_or_else(|| {
        format!(
            "{} {}",
            rule.get("type").and_then(text).unwrap_or_default(),
            rule.get("value")
                .map(|x| text(x).unwrap_or_else(|| x.to_string()))
                .unwrap_or_default()
        )
        .trim()
        .to_owned()
    });
    let affected = match v.get("affectedVulnerabilities") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                let get = |k: &str| x.get(k).and_then(text).unwrap_or_default();
                let location = match (
                    x.get("packageName").and_then(text),
                    x.get("packageVersion").and_then(text),
                ) {
                    (Some(p), Some(ver)) => format!("{p}@{ver}"),
                    _ => {
                        let start = x.get("startLine").and_then(number).map(|n| n as u64);
                        let end = x.get("endLine").and_then(number).map(|n| n as u64);
                        match (start, end) {
                            (Some(s), Some(e)) if e > s => {
                                format!("{} (L{s}-{e})", get("filePath"))
                            }
                            (Some(s), _) => format!("{} (L{s})", get("filePath")),
                            _ => get("filePath"),
                        }
                    }
                };
                AffectedFinding {
                    id: get("id"),
                    name: get("name"),
                    severity: get("severity").to_ascii_lowercase(),
                    location,
                    kind: x
                        .get("vulnerabilityType")
                        .and_then(text)
                        .unwrap_or_else(|| "sast".into())
                        .to_ascii_lowercase(),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    Violation {
        rule: rule
            .get("name")
            .and_then(text)
            .unwrap_or_else(|| "(unnamed rule)".into()),
        description: desc,
        action: v
            .get("actionTaken")
            .and_then(text)
            .unwrap_or_default()
            .to_ascii_uppercase(),
        acknowledged: v
            .get("acknowledged")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        acknowledgement_reason: v
            .get("acknowledgementReason")
            .and_then(text)
            .unwrap_or_default(),
        affected_count: v
            .get("affectedVulnerabilitiesCount")
            .and_then(number)
            .map_or(affected.len() as u64, |n| n as u64),
        affected,
        project_id: v.get("projectId").and_then(text).unwrap_or_default(),
    }
}

/// Every violation of a scan (all pages).
pub async fn violations(api: &Api<'_>, project: &str, scan: &str) -> Result<Vec<Violation>> {
    let path = format!("/projects/{}/scans/{}/violations", seg(project), seg(scan));
    let mut out = Vec::new();
    let mut page = 1u64;
    loop {
        let q = vec![
            ("page".to_owned(), page.to_string()),
            ("limit".to_owned(), "50".to_owned()),
        ];
        let v = api
            .json("policy violations", Method::GET, &path, &q, None)
            .await?;
        let items = match v.get("violations") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let total = v.get("total").and_then(number).map_or(0, |n| n as usize);
        let empty = items.is_empty();
        out.extend(items.iter().map(violation));
        if empty || out.len() >= total || page >= 1000 {
            break;
        }
        page += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_read_base_wrapper_and_top_level() {
        let wrapped = json!({"base": {"id": "1", "currentSeverity": "HIGH", "currentState": "to_verify", "path": "a.js",
            "vulnerableStartLine": "3", "vulnerability": {"name": "XSS", "cwe": ["CWE-79"]}}});
        let flat = json!({"id": "1", "currentSeverity": "HIGH", "currentState": "to_verify", "path": "a.js",
            "vulnerableStartLine": 3, "vulnerability": {"name": "XSS", "cwe": ["CWE-79"]}});
        assert_eq!(finding("sast", &wrapped), finding("sast", &flat));
        assert_eq!(finding("sast", &flat).severity, "high");
        assert_eq!(finding("sast", &flat).start_line, Some(3));
    }

    #[test]
    fn dependency_findings_take_name_path_and_fix_from_metadata() {
        let item = json!({"base": {"id": "9", "currentSeverity": "critical", "vulnerability": {}},
            "metadata": {"summary": "Prototype pollution", "cwes": [{"cweId": "CWE-1321"}]},
            "library": {"packageName": "lodash", "packageVersion": "4.17.20", "ecosystem": "npm"},
            "autofixRecords": [{"vulnerablePackage": "lodash", "recommendedProposedVersion": "4.17.21"}]});
        let f = finding("sca", &item);
        assert_eq!(f.name, "Prototype pollution");
        assert_eq!(f.path, "lodash@4.17.20");
        assert_eq!(f.language, "npm");
        assert_eq!(f.cwe, vec!["CWE-1321"]);
        assert_eq!(
            f.how_to_prevent,
            "Update lodash to version 4.17.21 or later."
        );
    }
}
