//! Projects: create, read, delete, and every project of an organisation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::platform::api::{About, Answer, Api, about, seg};
use crate::platform::de;

/// The fields of a project this CLI shows. The API names the id `projectId`; the official CLI
/// reads `id`: both are accepted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Project {
    #[serde(default, rename = "projectId", deserialize_with = "de::text")]
    project_id: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    id: Option<String>,
    /// The project's display name.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub name: String,
    /// The owning team (`teamId`).
    #[serde(default, rename = "teamId", deserialize_with = "de::text")]
    pub team_id: Option<String>,
    /// The owning team's name, when the server sends it.
    #[serde(default, rename = "teamName", deserialize_with = "de::text")]
    pub team_name: Option<String>,
    /// Risk level (`low`, `medium`, ...).
    #[serde(default, rename = "riskLevel", deserialize_with = "de::text")]
    pub risk_level: Option<String>,
    /// As the platform computes it (`riskScore`); higher is riskier.
    #[serde(default, rename = "riskScore", deserialize_with = "de::number")]
    pub risk_score: Option<f64>,
    /// Creation time as sent.
    #[serde(default, rename = "createdAt", deserialize_with = "de::text")]
    pub created_at: Option<String>,
    /// Last change as sent.
    #[serde(default, rename = "updatedAt", deserialize_with = "de::text")]
    pub updated_at: Option<String>,
    /// Open findings by severity (`issuesCount`), in the organisation's list.
    #[serde(default, rename = "issuesCount")]
    pub issues: Option<Issues>,
}

/// Open findings by severity, as the organisation's project list counts them; a count the
/// server did not send (or sent out of range) is `None`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Issues {
    /// Critical.
    #[serde(default, deserialize_with = "de::count")]
    pub critical: Option<u64>,
    /// High.
    #[serde(default, deserialize_with = "de::count")]
    pub high: Option<u64>,
    /// Medium.
    #[serde(default, deserialize_with = "de::count")]
    pub medium: Option<u64>,
    /// Low.
    #[serde(default, deserialize_with = "de::count")]
    pub low: Option<u64>,
}

impl Project {
    /// `projectId`, else `id`.
    pub fn id(&self) -> Option<&str> {
        self.project_id.as_deref().or(self.id.as_deref())
    }
}

/// What `project create` sends; the switches are sent only when given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewProject {
    /// The new project's name (trimmed, never empty).
    pub name: String,
    /// AI merge requests.
    #[serde(
        rename = "aiMergeRequestEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub ai_merge_request: Option<bool>,
    /// Improving results.
    #[serde(
        rename = "improvingResultsEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub improving_results: Option<bool>,
    /// Auto-fix (sent by the official CLI; not in the spec).
    #[serde(rename = "autoFixEnabled", skip_serializing_if = "Option::is_none")]
    pub auto_fix: Option<bool>,
}

/// `GET /project/{id}`.
pub async fn get(api: &Api<'_>, project: &str) -> Result<Answer<Project>> {
    let path = format!("/project/{}", seg(project));
    api.get_answer("project get", &path, &[])
        .await
        .map_err(about(About::project(project)))
}

/// `POST /team/{teamId}/project`.
pub async fn create(api: &Api<'_>, team: &str, body: &NewProject) -> Result<Answer<Project>> {
    let path = format!("/team/{}/project", seg(team));
    let raw: Value = api
        .post("project create", &path, body)
        .await
        .map_err(about(About::team(team)))?;
    Answer::read("project create", raw)
}

/// `DELETE /project/{id}`: the server's answer (`{message}`).
pub async fn delete(api: &Api<'_>, project: &str) -> Result<Value> {
    let path = format!("/project/{}", seg(project));
    api.delete("project delete", &path)
        .await
        .map_err(about(About::project(project)))
}

/// One page of an organisation's projects.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProjectPage {
    /// In the server's order.
    #[serde(default, deserialize_with = "de::lenient_list")]
    pub projects: Vec<Project>,
    /// Pages in all.
    #[serde(default, rename = "totalPages", deserialize_with = "de::count")]
    pub total_pages: Option<u64>,
    /// Projects in all.
    #[serde(default, rename = "totalProjects", deserialize_with = "de::count")]
    pub total_projects: Option<u64>,
}

/// Largest page the API serves for an organisation's projects.
pub const PROJECT_PAGE_SIZE: u64 = 10;
/// Most pages read for one listing (100,000 projects).
pub const MAX_PAGES: u64 = 10_000;

/// `GET /organization/{id}/projects?page=N&pageSize=10[&search=]`.
pub async fn page(
    api: &Api<'_>,
    org: &str,
    page: u64,
    search: Option<&str>,
) -> Result<Answer<ProjectPage>> {
    let path = format!("/organization/{}/projects", seg(org));
    let mut q = vec![
        ("page".to_owned(), page.to_string()),
        ("pageSize".to_owned(), PROJECT_PAGE_SIZE.to_string()),
    ];
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        q.push(("search".to_owned(), s.to_owned()));
    }
    api.get_answer("project list", &path, &q)
        .await
        .map_err(about(About::organisation(org)))
}

/// Every project of an organisation, every page: the server's objects and their views.
pub async fn all(
    api: &Api<'_>,
    org: &str,
    search: Option<&str>,
) -> Result<(Vec<Value>, Vec<Project>)> {
    let mut raw = Vec::new();
    let mut views = Vec::new();
    let mut previous: Vec<Value> = Vec::new();
    let mut n = 1;
    // The same caps as results: a server that ignores the page size, or never stops, cannot
    // make the listing grow without bound.
    let budget = crate::platform::results::Budget::default();
    loop {
        let p = page(api, org, n, search).await?;
        let items = match p.raw.get("projects") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                return Err(Error::failure(
                    "project list: the answer has no `projects` list",
                ));
            }
        };
        budget.take_values("project list", &items)?;
        let got = items.len();
        // The same page again: the server ignores `page`; what it sent is all there is.
        if got > 0 && items == previous {
            let total = p.view.total_projects.unwrap_or(0);
            if total > raw.len() as u64 {
                tracing::warn!("project list: page {n} repeats page {}", n - 1);
                return Err(Error::failure(format!(
                    "project list: the platform sent page {} again for page {n}; {} of the {total} projects it reports were listed",
                    n - 1,
                    raw.len()
                ))
                .with_hint("retry later; --json shows what was received so far only when the listing completes"));
            }
            break;
        }
        previous.clone_from(&items);
        raw.extend(items);
        views.extend(p.view.projects);
        let last = p.view.total_pages.unwrap_or(n);
        let all = p.view.total_projects.is_some_and(|t| raw.len() as u64 >= t);
        if got == 0 || n >= last || all {
            break;
        }
        if n >= MAX_PAGES {
            return Err(Error::failure(format!(
                "project list: the API reports more than {MAX_PAGES} pages; stopped"
            )));
        }
        n += 1;
    }
    Ok((raw, views))
}
