//! A project's compliance: past policy evaluations, open violations, statistics.

use serde::Deserialize;

use crate::error::Result;
use crate::platform::api::{About, Answer, Api, Query, about, seg};
use crate::platform::de;

/// One past evaluation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Evaluation {
    /// The evaluation's own id (`evaluationId`).
    #[serde(default, rename = "evaluationId", deserialize_with = "de::text")]
    pub evaluation_id: Option<String>,
    /// The scan the evaluation followed (`scanId`).
    #[serde(default, rename = "scanId", deserialize_with = "de::text")]
    pub scan_id: Option<String>,
    /// Whether the scan complied.
    #[serde(default, deserialize_with = "de::flag")]
    pub compliant: Option<bool>,
    /// Blocking violations.
    #[serde(
        default,
        rename = "blockingViolationsCount",
        deserialize_with = "de::count"
    )]
    pub blocking: Option<u64>,
    /// Warnings.
    #[serde(
        default,
        rename = "warningViolationsCount",
        deserialize_with = "de::count"
    )]
    pub warnings: Option<u64>,
    /// When.
    #[serde(default, rename = "evaluatedAt", deserialize_with = "de::text")]
    pub evaluated_at: Option<String>,
}

/// A page of the history.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct History {
    /// Evaluations.
    #[serde(default, deserialize_with = "de::lenient_list")]
    pub entries: Vec<Evaluation>,
    /// In all.
    #[serde(default, deserialize_with = "de::count")]
    pub total: Option<u64>,
}

/// One open violation (the fields of `ViolationDto` shown in a table).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Violation {
    /// The violation's own id.
    #[serde(default, deserialize_with = "de::text")]
    pub id: Option<String>,
    /// BLOCK or WARN.
    #[serde(
        default,
        rename = "actionTaken",
        deserialize_with = "de::text_or_empty"
    )]
    pub action: String,
    /// The broken rule, as the server sent it (shown as JSON).
    #[serde(default)]
    pub rule: Option<serde_json::Value>,
    /// Findings it concerns.
    #[serde(
        default,
        rename = "affectedVulnerabilitiesCount",
        deserialize_with = "de::count"
    )]
    pub affected: Option<u64>,
    /// When.
    #[serde(default, rename = "createdAt", deserialize_with = "de::text")]
    pub created_at: Option<String>,
}

impl Violation {
    /// The rule's name, if the answer has one.
    pub fn rule_name(&self) -> String {
        self.rule
            .as_ref()
            .and_then(|r| r.get("name"))
            .and_then(|n| de::text_of(n.clone()))
            .unwrap_or_default()
    }
}

/// A page of violations.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Violations {
    /// This page's violations.
    #[serde(default, deserialize_with = "de::lenient_list")]
    pub violations: Vec<Violation>,
    /// In all.
    #[serde(default, deserialize_with = "de::count")]
    pub total: Option<u64>,
}

/// Violation statistics.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stats {
    /// Violations.
    #[serde(default, rename = "totalViolations", deserialize_with = "de::count")]
    pub total: Option<u64>,
    /// Violations that blocked (`blockedCount`).
    #[serde(default, rename = "blockedCount", deserialize_with = "de::count")]
    pub blocked: Option<u64>,
    /// Violations that only warned (`warnedCount`).
    #[serde(default, rename = "warnedCount", deserialize_with = "de::count")]
    pub warned: Option<u64>,
    /// Policies that apply.
    #[serde(
        default,
        rename = "applicablePoliciesCount",
        deserialize_with = "de::count"
    )]
    pub policies: Option<u64>,
    /// Compliant, Non-Compliant or Pending.
    #[serde(default, rename = "complianceStatus", deserialize_with = "de::text")]
    pub status: Option<String>,
}

/// `GET /projects/{id}/compliance-history?page&pageSize[&startDate][&endDate]`.
pub async fn history(api: &Api<'_>, id: &str, query: &Query) -> Result<Answer<History>> {
    let path = format!("/projects/{}/compliance-history", seg(id));
    api.get_answer("compliance history", &path, query)
        .await
        .map_err(about(About::project(id)))
}

/// `GET /projects/{id}/violations?page&limit`.
pub async fn violations(api: &Api<'_>, id: &str, query: &Query) -> Result<Answer<Violations>> {
    let path = format!("/projects/{}/violations", seg(id));
    api.get_answer("compliance violations", &path, query)
        .await
        .map_err(about(About::project(id)))
}

/// `GET /projects/{id}/violation-stats[?startDate][&endDate]`.
pub async fn stats(api: &Api<'_>, id: &str, query: &Query) -> Result<Answer<Stats>> {
    let path = format!("/projects/{}/violation-stats", seg(id));
    api.get_answer("compliance stats", &path, query)
        .await
        .map_err(about(About::project(id)))
}
