//! The double's API routes, declared: method, the spec's path template, handler. A request is
//! matched against the templates (a literal segment beats a `{parameter}`); ids in the path are
//! checked before the handler runs (a forbidden id is 403, an unknown one 404), so handlers
//! only serve. The OpenAPI test walks [`ROUTES`]: every route must be in the spec, and every
//! route must be exercised and its answers validated.

use axum::http::StatusCode;
use axum::response::Response;

use super::platform::{self as p, error_body};
use super::{Recorded, State, manage as m};

/// Path parameters of a matched route.
#[derive(Debug, Default)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The value of `{name}` (empty if the template has none).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

type Handler = fn(&mut State, &Recorded, &Params) -> Response;

/// One declared route.
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// The spec's path template.
    pub template: &'static str,
    handler: Handler,
}

const fn r(method: &'static str, template: &'static str, handler: Handler) -> Route {
    Route {
        method,
        template,
        handler,
    }
}

/// Every API route the double serves.
pub static ROUTES: &[Route] = &[
    // Projects and scans
    r("GET", "/project/{projectId}", p::project_get),
    r("DELETE", "/project/{projectId}", m::project_delete),
    r("POST", "/team/{teamId}/project", m::project_create),
    r(
        "GET",
        "/organization/{organizationId}/projects",
        m::org_projects,
    ),
    r("POST", "/project/{projectId}/scan/start", p::scan_start),
    r("GET", "/project/{projectId}/scan/{scanId}", p::scan_status),
    // Results
    r("GET", "/project/{projectId}/results/sast", p::results_flat),
    r("GET", "/project/{projectId}/results/sca", p::results_flat),
    r("GET", "/project/{projectId}/results/iac", p::results_flat),
    r(
        "GET",
        "/project/{projectId}/results/secret",
        p::results_flat,
    ),
    r("GET", "/project/{projectId}/results/cicd", p::results_flat),
    r(
        "GET",
        "/project/{projectId}/results/container",
        p::results_flat,
    ),
    r(
        "GET",
        "/project/{projectId}/results/sast/grouped",
        p::results_grouped,
    ),
    r(
        "GET",
        "/project/{projectId}/results/iac/grouped",
        p::results_grouped,
    ),
    r(
        "GET",
        "/project/{projectId}/results/secret/grouped",
        p::results_grouped,
    ),
    r(
        "GET",
        "/project/{projectId}/results/cicd/grouped",
        p::results_grouped,
    ),
    r(
        "GET",
        "/project/{projectId}/results/overview",
        m::project_overview,
    ),
    r(
        "GET",
        "/organization/{organizationId}/results/overview",
        m::org_overview,
    ),
    // Policies and compliance
    r(
        "GET",
        "/projects/{projectId}/scans/{scanId}/evaluation-status",
        p::evaluation_status,
    ),
    r(
        "GET",
        "/projects/{projectId}/scans/{scanId}/violations",
        p::scan_violations,
    ),
    r(
        "GET",
        "/projects/{projectId}/violations",
        p::project_violations,
    ),
    r(
        "GET",
        "/projects/{projectId}/compliance-history",
        m::compliance_history,
    ),
    r(
        "GET",
        "/projects/{projectId}/violation-stats",
        m::violation_stats,
    ),
    // Teams
    r(
        "POST",
        "/organization/{organizationId}/team",
        m::team_create,
    ),
    r(
        "GET",
        "/organization/{organizationId}/team/{teamId}",
        m::team_get,
    ),
    r("GET", "/organization/{organizationId}/teams", m::teams_list),
    r("PUT", "/team/{teamId}", m::team_update),
    r("DELETE", "/team/{teamId}", m::team_delete),
    r("GET", "/team/{teamId}/members", m::team_members),
    r("POST", "/team/{teamId}/member", m::member_add),
    r("PUT", "/team/{teamId}/member/role", m::member_role),
    r("DELETE", "/team/{teamId}/member", m::member_remove),
    // Reports
    r("GET", "/project/{projectId}/sbom", m::sbom),
    r(
        "GET",
        "/project/{projectId}/owasp-report/{format}",
        m::owasp_report,
    ),
    r(
        "GET",
        "/project/{projectId}/cwe-report/{format}",
        m::cwe_report,
    ),
    r(
        "GET",
        "/organization/{organizationId}/report/{reportType}/{format}",
        m::scoped_report,
    ),
    r(
        "GET",
        "/team/{teamId}/report/{reportType}/{format}",
        m::scoped_report,
    ),
    r(
        "POST",
        "/organization/{organizationId}/project/report/batch/{reportType}/{format}",
        m::batch_report,
    ),
    // Registry scans
    r(
        "POST",
        "/integrations/gitlab/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/github-container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/dockerhub/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/gcr/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/ecr/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/acr/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/quay/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/harbor/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    r(
        "POST",
        "/integrations/jfrog/container-registry/project/{projectId}/scan",
        m::registry_scan,
    ),
    // The account
    r("GET", "/user/profile", m::profile),
    r("GET", "/user/personal-access-tokens", m::pats_list),
    r("POST", "/user/personal-access-tokens", m::pat_create),
    r("POST", "/user/personal-access-tokens/delete", m::pat_delete),
    r("PATCH", "/user/personal-access-tokens/name", m::pat_rename),
];

/// The route for `method path` and its parameters: the template with the most literal
/// segments wins.
pub fn find(method: &str, path: &str) -> Option<(&'static Route, Params)> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .filter_map(|r| {
            let ts: Vec<&'static str> = r.template.split('/').collect();
            if ts.len() != segs.len() {
                return None;
            }
            let mut params = Params::default();
            let mut literal = 0;
            for (t, s) in ts.iter().zip(&segs) {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    if s.is_empty() {
                        return None;
                    }
                    params.0.push((name, (*s).to_owned()));
                } else if t == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((r, params, literal))
        })
        .max_by_key(|(_, _, literal)| *literal)
        .map(|(r, p, _)| (r, p))
}

/// Serves an API request: the route, its ids checked (403 forbidden, 404 unknown), the handler.
pub(super) fn serve(s: &mut State, req: &Recorded) -> Response {
    let Some((route, params)) = find(&req.method, &req.path) else {
        let known = ROUTES.iter().any(|r| find_any_method(r, &req.path));
        let status = if known {
            StatusCode::METHOD_NOT_ALLOWED
        } else {
            StatusCode::NOT_FOUND
        };
        return error_body(status, &format!("Cannot {} {}", req.method, req.path));
    };
    for (name, value) in &params.0 {
        let (exists, what) = match *name {
            "projectId" => (s.projects.contains_key(value), "Project"),
            "teamId" => (s.teams.contains_key(value), "Team"),
            "organizationId" => (s.orgs.contains_key(value), "Organization"),
            _ => continue,
        };
        if s.forbidden.contains(value) {
            return error_body(StatusCode::FORBIDDEN, "Forbidden resource");
        }
        if !exists {
            return error_body(StatusCode::NOT_FOUND, &format!("{what} not found"));
        }
    }
    (route.handler)(s, req, &params)
}

fn find_any_method(route: &Route, path: &str) -> bool {
    find(route.method, path).is_some_and(|(r, _)| std::ptr::eq(r, route))
}
