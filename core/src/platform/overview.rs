//! Overviews: a project's or an organisation's findings by severity, state and type.

use serde::Deserialize;

use crate::error::Result;
use crate::platform::api::{About, Answer, Api, Query, about, seg};
use crate::platform::de;

/// One count of a breakdown (`{severity|state|analysisType, count}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Count {
    #[serde(default, deserialize_with = "de::text")]
    severity: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    state: Option<String>,
    #[serde(default, rename = "analysisType", deserialize_with = "de::text")]
    analysis_type: Option<String>,
    /// Findings of this state and type.
    #[serde(default, deserialize_with = "de::count")]
    pub count: Option<u64>,
}

impl Count {
    /// What is counted: the severity, state or analysis type.
    pub fn label(&self) -> &str {
        self.severity
            .as_deref()
            .or(self.state.as_deref())
            .or(self.analysis_type.as_deref())
            .unwrap_or("?")
    }
}

/// The fields of an overview this CLI shows.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Overview {
    /// Open findings by severity.
    #[serde(
        default,
        rename = "totalBySeverity",
        deserialize_with = "de::lenient_list"
    )]
    pub by_severity: Vec<Count>,
    /// By state.
    #[serde(
        default,
        rename = "totalByState",
        deserialize_with = "de::lenient_list"
    )]
    pub by_state: Vec<Count>,
    /// By analysis type.
    #[serde(
        default,
        rename = "totalByAnalysisType",
        deserialize_with = "de::lenient_list"
    )]
    pub by_type: Vec<Count>,
    /// As the platform computes it (`riskScore`); higher is riskier.
    #[serde(default, rename = "riskScore", deserialize_with = "de::number")]
    pub risk_score: Option<f64>,
    /// `low` to `critical`, as sent (`riskLevel`).
    #[serde(default, rename = "riskLevel", deserialize_with = "de::text")]
    pub risk_level: Option<String>,
    /// Projects (organisation).
    #[serde(default, rename = "totalProjects", deserialize_with = "de::count")]
    pub total_projects: Option<u64>,
    /// Teams (organisation).
    #[serde(default, rename = "totalTeams", deserialize_with = "de::count")]
    pub total_teams: Option<u64>,
}

/// `GET /project/{id}/results/overview[?branches=a&branches=b]`.
pub async fn project(api: &Api<'_>, id: &str, branches: &[String]) -> Result<Answer<Overview>> {
    let path = format!("/project/{}/results/overview", seg(id));
    let q: Vec<(String, String)> = branches
        .iter()
        .map(|b| ("branches".to_owned(), b.clone()))
        .collect();
    api.get_answer("project overview", &path, &q)
        .await
        .map_err(about(About::project(id)))
}

/// `GET /organization/{id}/results/overview?...` with the filters as query parameters.
pub async fn organization(api: &Api<'_>, id: &str, query: &Query) -> Result<Answer<Overview>> {
    let path = format!("/organization/{}/results/overview", seg(id));
    api.get_answer("organisation overview", &path, query)
        .await
        .map_err(about(About::organisation(id)))
}
