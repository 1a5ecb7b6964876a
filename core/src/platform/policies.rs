//! Policy evaluation of a scan and its violations.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::platform::api::{Api, seg};
use crate::platform::de;

/// Most violation pages read.
const MAX_PAGES: u64 = 1000;

/// Policy evaluation status.
#[derive(Debug, Clone, Deserialize)]
pub struct Evaluation {
    /// Whether the scan has an evaluation.
    #[serde(default, rename = "hasEvaluation", deserialize_with = "de::flag")]
    pub has_evaluation: Option<bool>,
    /// `PENDING`, `IN_PROGRESS`, `COMPLETED`, `FAILED`, `NOT_STARTED`.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub status: String,
    /// 0 to 100.
    #[serde(default, deserialize_with = "de::number")]
    pub progress: Option<f64>,
    /// Server message.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub message: String,
}

/// `GET /projects/{id}/scans/{scanId}/evaluation-status`.
pub async fn evaluation_status(api: &Api<'_>, project: &str, scan: &str) -> Result<Evaluation> {
    let path = format!(
        "/projects/{}/scans/{}/evaluation-status",
        seg(project),
        seg(scan)
    );
    let e: Option<Evaluation> = api.get("policy evaluation status", &path, &[]).await?;
    let mut e =
        e.ok_or_else(|| Error::failure("policy evaluation status: the API answered with nothing"))?;
    e.status = crate::text::one_line(&e.status, 40).to_ascii_uppercase();
    e.message = crate::text::one_line(&e.message, 300);
    Ok(e)
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

impl Violation {
    /// A `BLOCK` nobody acknowledged.
    pub fn is_blocking(&self) -> bool {
        self.action.eq_ignore_ascii_case("BLOCK") && !self.acknowledged
    }
}

/// A finding named by a violation.
#[derive(Debug, Clone)]
pub struct AffectedFinding {
    /// Finding id.
    pub id: String,
    /// The finding's title.
    pub name: String,
    /// `critical`, `high`, `medium` or `low`, as sent.
    pub severity: String,
    /// `path (Lx-y)` or `package@version`.
    pub location: String,
    /// Result type for links.
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRule {
    #[serde(deserialize_with = "de::text")]
    name: Option<String>,
    #[serde(deserialize_with = "de::text")]
    description: Option<String>,
    #[serde(rename = "type", deserialize_with = "de::text")]
    kind: Option<String>,
    value: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAffected {
    #[serde(deserialize_with = "de::text_or_empty")]
    id: String,
    #[serde(deserialize_with = "de::text_or_empty")]
    name: String,
    #[serde(deserialize_with = "de::text_or_empty")]
    severity: String,
    #[serde(rename = "packageName", deserialize_with = "de::text")]
    package_name: Option<String>,
    #[serde(rename = "packageVersion", deserialize_with = "de::text")]
    package_version: Option<String>,
    #[serde(rename = "filePath", deserialize_with = "de::text_or_empty")]
    file_path: String,
    #[serde(rename = "startLine", deserialize_with = "de::count")]
    start_line: Option<u64>,
    #[serde(rename = "endLine", deserialize_with = "de::count")]
    end_line: Option<u64>,
    #[serde(rename = "vulnerabilityType", deserialize_with = "de::text")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawViolation {
    #[serde(deserialize_with = "lenient_rule")]
    rule: RawRule,
    #[serde(rename = "actionTaken", deserialize_with = "de::text_or_empty")]
    action: String,
    #[serde(deserialize_with = "de::flag")]
    acknowledged: Option<bool>,
    #[serde(
        rename = "acknowledgementReason",
        deserialize_with = "de::text_or_empty"
    )]
    acknowledgement_reason: String,
    #[serde(
        rename = "affectedVulnerabilitiesCount",
        deserialize_with = "de::count"
    )]
    affected_count: Option<u64>,
    #[serde(
        rename = "affectedVulnerabilities",
        deserialize_with = "de::lenient_list"
    )]
    affected: Vec<RawAffected>,
    #[serde(rename = "projectId", deserialize_with = "de::text_or_empty")]
    project_id: String,
}

fn lenient_rule<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<RawRule, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

impl RawViolation {
    fn into_violation(self) -> Violation {
        let one = |s: &str| crate::text::one_line(s, 300);
        let rule = self.rule;
        let description = rule.description.unwrap_or_else(|| {
            let value = rule
                .value
                .map(|x| de::text_of(x.clone()).unwrap_or_else(|| x.to_string()))
                .unwrap_or_default();
            format!("{} {value}", rule.kind.unwrap_or_default())
                .trim()
                .to_owned()
        });
        let affected: Vec<AffectedFinding> = self
            .affected
            .into_iter()
            .map(|x| {
                let location = match (x.package_name, x.package_version) {
                    (Some(p), Some(v)) => format!("{p}@{v}"),
                    _ => match (x.start_line, x.end_line) {
                        (Some(s), Some(e)) if e > s => format!("{} (L{s}-{e})", x.file_path),
                        (Some(s), _) => format!("{} (L{s})", x.file_path),
                        _ => x.file_path,
                    },
                };
                AffectedFinding {
                    id: one(&x.id),
                    name: one(&x.name),
                    severity: one(&x.severity).to_ascii_lowercase(),
                    location: one(&location),
                    kind: one(&x.kind.unwrap_or_else(|| "sast".into())).to_ascii_lowercase(),
                }
            })
            .collect();
        Violation {
            rule: one(&rule.name.unwrap_or_else(|| "(unnamed rule)".into())),
            description: one(&description),
            action: one(&self.action).to_ascii_uppercase(),
            acknowledged: self.acknowledged.unwrap_or(false),
            acknowledgement_reason: one(&self.acknowledgement_reason),
            affected_count: self.affected_count.unwrap_or(affected.len() as u64),
            affected,
            project_id: one(&self.project_id),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ViolationsPage {
    #[serde(deserialize_with = "de::lenient_list")]
    violations: Vec<RawViolation>,
    #[serde(deserialize_with = "de::count")]
    total: Option<u64>,
}

/// A violations page's bytes through the reader (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_violations(data: &[u8]) {
    if let Ok(Some(p)) = crate::platform::parse::<Option<ViolationsPage>>("fuzz", data) {
        for v in p.violations {
            let _ = v.into_violation().is_blocking();
        }
    }
}

/// Every violation of a scan (all pages; stops at an empty or repeated page).
pub async fn violations(api: &Api<'_>, project: &str, scan: &str) -> Result<Vec<Violation>> {
    let path = format!("/projects/{}/scans/{}/violations", seg(project), seg(scan));
    let mut out: Vec<Violation> = Vec::new();
    let mut page = 1u64;
    loop {
        let q = vec![
            ("page".to_owned(), page.to_string()),
            ("limit".to_owned(), "50".to_owned()),
        ];
        let v: Option<ViolationsPage> = api.get("policy violations", &path, &q).await?;
        let v = v.unwrap_or_default();
        let total = v.total.unwrap_or(0);
        if v.violations.is_empty() {
            break;
        }
        let before = out.len();
        let batch: Vec<Violation> = v
            .violations
            .into_iter()
            .map(RawViolation::into_violation)
            .collect();
        let repeated = before >= batch.len()
            && out[before - batch.len()..]
                .iter()
                .zip(&batch)
                .all(|(a, b)| a.rule == b.rule && a.affected_count == b.affected_count);
        if repeated {
            break;
        }
        out.extend(batch);
        if out.len() as u64 >= total || page >= MAX_PAGES {
            break;
        }
        page += 1;
    }
    Ok(out)
}
