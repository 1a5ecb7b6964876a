//! Management endpoints of the double: projects, teams and members, overviews, reports,
//! compliance, registry scans, the user's profile and personal access tokens.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::platform::{error_body, new_scan, query_all, query_num, uuid};
use super::routes::Params;
use super::{EvaluationMode, Project, Recorded, State, TeamRec, UserPat, json_response};

const TIME: &str = "2026-01-01T00:00:00.000Z";

fn body_of(req: &Recorded) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

fn text_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn bad_request(message: &str) -> Response {
    // ErrorDto
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"timestamp": TIME, "service": "double", "method": "?", "message": message, "code": 400}),
    )
}

fn severity_counts(project: &Project) -> [u64; 4] {
    let mut counts = [0u64; 4];
    for f in project.findings.values().flat_map(|v| v.iter()) {
        let b = f.get("base").unwrap_or(f);
        if b["currentState"] == "resolved" || b["currentState"] == "ignored" {
            continue;
        }
        let i = ["critical", "high", "medium", "low"]
            .iter()
            .position(|s| b["currentSeverity"] == *s);
        if let Some(i) = i {
            counts[i] += 1;
        }
    }
    counts
}

fn team_name(s: &State, team: &str) -> String {
    s.teams
        .get(team)
        .map_or_else(|| "Double team".to_owned(), |t| t.name.clone())
}

/// ProjectInformationsResponseDto.
fn project_info(s: &State, id: &str) -> Value {
    let p = &s.projects[id];
    json!({
        "projectId": id, "teamId": p.team, "teamName": team_name(s, &p.team), "name": p.name,
        "createdAt": TIME, "updatedAt": TIME, "riskScore": 42, "riskLevel": "medium",
        "analysisFrequency": "never", "sastEnabled": true, "scaEnabled": true,
        "aiMergeRequestEnabled": p.ai_merge_request, "referenceBranch": null
    })
}

pub(super) fn project_create(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let body = body_of(req);
    let Some(name) = text_field(&body, "name") else {
        return bad_request("name should not be empty");
    };
    let n = s.projects.len() as u64 + 1;
    let id = uuid(0x9000 + n);
    let mut project = Project::new(name, p.get("teamId"));
    project.ai_merge_request = body
        .get("aiMergeRequestEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.projects.insert(id.clone(), project);
    json_response(StatusCode::CREATED, project_info(s, &id))
}

pub(super) fn project_delete(s: &mut State, _: &Recorded, p: &Params) -> Response {
    s.projects.remove(p.get("projectId"));
    json_response(
        StatusCode::OK,
        json!({"message": "Project deleted successfully"}),
    )
}

pub(super) fn org_projects(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let org = p.get("organizationId");
    let page = query_num(req, &["page"], 1);
    if let Some(per_page) = s.project_flood {
        // a hostile server: it ignores the page size and never runs out
        let items: Vec<Value> = (0..per_page)
            .map(|i| json!({"projectId": format!("p{page}-{i}"), "name": format!("flood {page}/{i}")}))
            .collect();
        return json_response(
            StatusCode::OK,
            json!({"projects": items, "totalProjects": 1u64 << 40, "totalPages": 1u64 << 30}),
        );
    }
    let size = query_num(req, &["pageSize"], 10);
    if page == 0 || !(1..=10).contains(&size) {
        return bad_request("pageSize must not be greater than 10");
    }
    let search = query_all(req, "search").first().map(|s| s.to_lowercase());
    let ids: Vec<String> = s
        .projects
        .iter()
        .filter(|(_, pr)| s.teams.get(&pr.team).is_none_or(|t| t.org == org))
        .filter(|(_, pr)| {
            search
                .as_deref()
                .is_none_or(|q| pr.name.to_lowercase().contains(q))
        })
        .map(|(id, _)| id.clone())
        .collect();
    let total = ids.len() as u64;
    let items: Vec<Value> = ids
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|id| {
            let pr = &s.projects[id];
            let c = severity_counts(pr);
            json!({
                "projectId": id, "teamId": pr.team, "teamName": team_name(s, &pr.team), "name": pr.name,
                "createdAt": TIME, "updatedAt": TIME, "riskLevel": "medium", "riskScore": 42,
                "issuesCount": {"critical": c[0], "high": c[1], "medium": c[2], "low": c[3]},
                "analyses": [{"type": "sast", "lastScan": TIME, "source": "cli", "issuesCount": {"critical": c[0], "high": c[1], "medium": c[2], "low": c[3]}}],
                "isGithubLinked": false, "isGitlabLinked": false
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "projects": items, "totalProjects": total, "totalPages": total.div_ceil(size),
            "mainStatistics": {
                "criticalRiskProjects": 0, "criticalRiskProjectsInLast7Days": 0, "highRiskProjects": 0,
                "highRiskProjectsInLast7Days": 0, "solvedIssues": 0, "solvedIssuesInLast7Days": 0,
                "newIssues": 0, "newIssuesInLast7Days": 0, "criticalIssues": 0, "highIssues": 0,
                "mediumIssues": 0, "lowIssues": 0
            }
        }),
    )
}

/// TeamInformationsResponseDto.
fn team_info(id: &str, t: &TeamRec) -> Value {
    json!({"id": id, "name": t.name, "description": t.description, "createdAt": TIME, "updatedAt": TIME})
}

pub(super) fn team_create(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let body = body_of(req);
    let (Some(name), Some(description)) = (
        text_field(&body, "name"),
        body.get("description").and_then(Value::as_str),
    ) else {
        return bad_request("name and description are required");
    };
    let org = p.get("organizationId").to_owned();
    let id = uuid(0xA000 + s.teams.len() as u64 + 1);
    s.teams.insert(
        id.clone(),
        TeamRec {
            org: org.clone(),
            name: name.to_owned(),
            description: description.to_owned(),
            members: Vec::new(),
        },
    );
    json_response(
        StatusCode::OK,
        json!({"success": true, "message": "Team created", "organizationId": org, "teamId": id, "name": name, "description": description}),
    )
}

pub(super) fn team_delete(s: &mut State, _: &Recorded, p: &Params) -> Response {
    s.teams.remove(p.get("teamId"));
    json_response(StatusCode::OK, json!({"message": "Team deleted"}))
}

pub(super) fn team_get(s: &mut State, _: &Recorded, p: &Params) -> Response {
    let id = p.get("teamId");
    let t = &s.teams[id];
    if t.org != p.get("organizationId") {
        return error_body(StatusCode::NOT_FOUND, "Team not found in this organization");
    }
    json_response(StatusCode::OK, team_info(id, t))
}

pub(super) fn teams_list(s: &mut State, _: &Recorded, p: &Params) -> Response {
    let org = p.get("organizationId");
    let teams: Vec<Value> = s
        .teams
        .iter()
        .filter(|(_, t)| t.org == org)
        .map(|(id, t)| team_info(id, t))
        .collect();
    if s.teams_wrapped {
        // The shape the official CLI reads.
        json_response(StatusCode::OK, json!({"teams": teams}))
    } else {
        json_response(StatusCode::OK, Value::Array(teams))
    }
}

pub(super) fn team_update(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let body = body_of(req);
    let id = p.get("teamId");
    let name = text_field(&body, "name").map(str::to_owned);
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if name.is_none() && description.is_none() {
        return bad_request("nothing to update");
    }
    let Some(t) = s.teams.get_mut(id) else {
        return error_body(StatusCode::NOT_FOUND, "Team not found");
    };
    if let Some(n) = name {
        t.name = n;
    }
    if let Some(d) = description {
        t.description = d;
    }
    json_response(
        StatusCode::OK,
        json!({"message": "Team updated", "updatedTeam": team_info(id, t)}),
    )
}

const ROLES: &[&str] = &[
    "team_manager",
    "analyst_developer",
    "developer",
    "read_only",
];

/// The member in a request body, or why it is a bad request.
fn member_body(req: &Recorded, with_role: bool) -> Result<(String, Option<String>), &'static str> {
    let body = body_of(req);
    let Some(user) = text_field(&body, "userId") else {
        return Err("userId must be a UUID");
    };
    if !with_role {
        return Ok((user.to_owned(), None));
    }
    match text_field(&body, "role") {
        Some(r) if ROLES.contains(&r) => Ok((user.to_owned(), Some(r.to_owned()))),
        _ => Err("role must be one of the following values"),
    }
}

pub(super) fn team_members(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let page = query_num(req, &["page"], 0);
    let size = query_num(req, &["pageSize"], 0);
    if page == 0 || !(1..=20).contains(&size) {
        return bad_request("page and pageSize (1 to 20) are required");
    }
    let search = query_all(req, "search").first().map(|s| s.to_lowercase());
    let t = &s.teams[p.get("teamId")];
    let users: Vec<&Value> = t
        .members
        .iter()
        .filter(|m| {
            search
                .as_deref()
                .is_none_or(|q| m["email"].as_str().unwrap_or("").contains(q))
        })
        .collect();
    let total = users.len() as u64;
    let items: Vec<&Value> = users
        .into_iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .collect();
    json_response(
        StatusCode::OK,
        json!({"users": items, "totalUsers": total, "totalPages": total.div_ceil(size), "totalAdministrators": 0}),
    )
}

pub(super) fn member_add(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let (user, role) = match member_body(req, true) {
        Ok(v) => v,
        Err(why) => return bad_request(why),
    };
    let id = p.get("teamId");
    let Some(t) = s.teams.get_mut(id) else {
        return error_body(StatusCode::NOT_FOUND, "Team not found");
    };
    t.members.retain(|m| m["id"] != user.as_str());
    t.members.push(json!({"id": user, "firstName": "Member", "lastName": "Double", "email": format!("{}@example.test", &user[..8.min(user.len())]), "picture": "", "role": role}));
    json_response(
        StatusCode::OK,
        json!({"message": "Member added", "updatedTeam": team_info(id, t)}),
    )
}

pub(super) fn member_role(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let (user, role) = match member_body(req, true) {
        Ok(v) => v,
        Err(why) => return bad_request(why),
    };
    let Some(m) = s
        .teams
        .get_mut(p.get("teamId"))
        .and_then(|t| t.members.iter_mut().find(|m| m["id"] == user.as_str()))
    else {
        return error_body(StatusCode::NOT_FOUND, "User is not a member of this team");
    };
    m["role"] = json!(role);
    json_response(
        StatusCode::OK,
        json!({"success": true, "message": "Role updated"}),
    )
}

pub(super) fn member_remove(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let (user, _) = match member_body(req, false) {
        Ok(v) => v,
        Err(why) => return bad_request(why),
    };
    let Some(t) = s.teams.get_mut(p.get("teamId")) else {
        return error_body(StatusCode::NOT_FOUND, "Team not found");
    };
    let before = t.members.len();
    t.members.retain(|m| m["id"] != user.as_str());
    if t.members.len() == before {
        return error_body(StatusCode::NOT_FOUND, "User is not a member of this team");
    }
    json_response(
        StatusCode::OK,
        json!({"success": true, "message": "Member removed"}),
    )
}

fn breakdowns(counts: [u64; 4]) -> Value {
    let sev = ["critical", "high", "medium", "low"];
    json!({
        "totalBySeverity": sev.iter().zip(counts).map(|(s, c)| json!({"severity": s, "count": c})).collect::<Vec<_>>(),
        "totalByState": [{"state": "to_verify", "count": counts.iter().sum::<u64>()}],
        "totalByAnalysisType": [{"analysisType": "SAST", "count": counts.iter().sum::<u64>()}],
        // The spec types `severity` as a number here.
        "vulnerabilitiesOverTime": [{"date": "2026-01-01", "severity": 1, "count": counts[0]}],
    })
}

pub(super) fn project_overview(s: &mut State, _: &Recorded, p: &Params) -> Response {
    let mut v = breakdowns(severity_counts(&s.projects[p.get("projectId")]));
    v["riskScore"] = json!(42);
    v["riskLevel"] = json!("medium");
    json_response(StatusCode::OK, v)
}

pub(super) fn org_overview(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let org = p.get("organizationId");
    let teams: Vec<&String> = s
        .teams
        .iter()
        .filter(|(_, t)| t.org == org)
        .map(|(id, _)| id)
        .collect();
    let wanted_teams = query_all(req, "teamIds");
    let mut counts = [0u64; 4];
    let mut projects = 0u64;
    for pr in s.projects.values().filter(|pr| {
        teams.contains(&&pr.team)
            && (wanted_teams.is_empty() || wanted_teams.contains(&pr.team.as_str()))
    }) {
        projects += 1;
        for (i, c) in severity_counts(pr).into_iter().enumerate() {
            counts[i] += c;
        }
    }
    let mut v = breakdowns(counts);
    for (k, x) in [
        ("organizationId", json!(org)),
        ("totalProjects", json!(projects)),
        ("totalTeams", json!(teams.len())),
        ("projectsSummary", json!([])),
        ("teamsSummary", json!([])),
        ("topVulnerableProjects", json!([])),
    ] {
        v[k] = x;
    }
    for k in [
        "criticalRiskProjects",
        "highRiskProjects",
        "mediumRiskProjects",
        "lowRiskProjects",
        "newIssuesLast7Days",
        "solvedIssuesLast7Days",
        "solvedIssues",
        "newIssues",
    ] {
        v[k] = json!(0);
    }
    for (k, c) in ["criticalIssues", "highIssues", "mediumIssues", "lowIssues"]
        .iter()
        .zip(counts)
    {
        v[*k] = json!(c);
    }
    json_response(StatusCode::OK, v)
}

/// A report of `size` bytes in `format`: deterministic, so a test can compare what it saved.
pub fn report_bytes(kind: &str, format: &str, size: usize) -> Vec<u8> {
    let head = match format {
        "pdf" => format!("%PDF-1.4\n% {kind} report\n"),
        "html" => format!("<!doctype html><title>{kind} report</title>\n"),
        _ => format!("{{\"report\": \"{kind}\", \"filler\": \""),
    };
    let mut out = head.into_bytes();
    let mut i = 0u32;
    while out.len() < size.saturating_sub(4) {
        out.push(b'a' + (i % 26) as u8);
        i += 1;
    }
    if format == "json" {
        out.extend_from_slice(b"\"}\n");
    } else {
        out.push(b'\n');
    }
    out
}

fn content_type(format: &str) -> &'static str {
    match format {
        "pdf" => "application/pdf",
        "html" => "text/html; charset=utf-8",
        _ => "application/json",
    }
}

fn report_response(s: &State, kind: &str, format: &str) -> Response {
    if !["json", "html", "pdf"].contains(&format) || !["owasp", "cwe", "sbom"].contains(&kind) {
        return bad_request("format must be one of json, html, pdf");
    }
    let bytes = report_bytes(kind, format, s.report_size);
    let body = match s.report_stall {
        None => axum::body::Body::from(bytes),
        Some(wait) => {
            // 64 KiB, a pause, then the rest: streamed, as a slow server would.
            let cut = bytes.len().min(64 * 1024);
            let (first, rest) = (bytes[..cut].to_vec(), bytes[cut..].to_vec());
            let chunks = futures_util::stream::iter([(first, None), (rest, Some(wait))]).then(
                |(chunk, pause)| async move {
                    if let Some(p) = pause {
                        tokio::time::sleep(p).await;
                    }
                    Ok::<_, std::io::Error>(chunk)
                },
            );
            axum::body::Body::from_stream(chunks)
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(format))],
        body,
    )
        .into_response()
}

pub(super) fn sbom(s: &mut State, _: &Recorded, _: &Params) -> Response {
    report_response(s, "sbom", "json")
}

pub(super) fn owasp_report(s: &mut State, _: &Recorded, p: &Params) -> Response {
    report_response(s, "owasp", p.get("format"))
}

pub(super) fn cwe_report(s: &mut State, _: &Recorded, p: &Params) -> Response {
    report_response(s, "cwe", p.get("format"))
}

pub(super) fn scoped_report(s: &mut State, _: &Recorded, p: &Params) -> Response {
    report_response(s, p.get("reportType"), p.get("format"))
}

pub(super) fn batch_report(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let body = body_of(req);
    let ids: Vec<&str> = body
        .get("projectIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return bad_request("projectIds should not be empty");
    }
    for id in &ids {
        if s.forbidden.contains(*id) {
            return error_body(StatusCode::FORBIDDEN, "Forbidden resource");
        }
        if !s.projects.contains_key(*id) {
            return error_body(StatusCode::NOT_FOUND, "Project not found");
        }
    }
    let (kind, format) = (p.get("reportType"), p.get("format"));
    let resp = report_response(s, kind, format);
    if s.batch_raw || resp.status() != StatusCode::OK {
        return resp;
    }
    use base64::Engine as _;
    let content =
        base64::engine::general_purpose::STANDARD.encode(report_bytes(kind, format, s.report_size));
    json_response(
        StatusCode::OK,
        json!({"filename": s.batch_filename.clone().unwrap_or_else(|| format!("batch-{kind}-report.{format}")), "contentType": content_type(format), "content": content}),
    )
}

pub(super) fn compliance_history(s: &mut State, req: &Recorded, _: &Params) -> Response {
    let page = query_num(req, &["page"], 1).max(1);
    let size = query_num(req, &["pageSize"], 20).clamp(1, 100);
    let entries: Vec<Value> = (0..3u64)
        .map(|i| json!({"evaluationId": uuid(0x3100 + i), "scanId": uuid(0x5100 + i), "compliant": i != 1, "blockingViolationsCount": u64::from(i == 1), "warningViolationsCount": i, "evaluatedAt": format!("2026-01-0{}T00:00:00Z", i + 1), "breakingRulesCount": u64::from(i == 1)}))
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .collect();
    let _ = s;
    json_response(
        StatusCode::OK,
        json!({"entries": entries, "total": 3, "page": page, "pageSize": size}),
    )
}

pub(super) fn violation_stats(s: &mut State, _: &Recorded, _: &Params) -> Response {
    let (blocked, warned) = match &s.evaluation {
        EvaluationMode::Completed(v) => (
            v.iter().filter(|x| x["actionTaken"] == "BLOCK").count(),
            v.iter().filter(|x| x["actionTaken"] == "WARN").count(),
        ),
        _ => (0, 0),
    };
    json_response(
        StatusCode::OK,
        json!({"totalViolations": blocked + warned, "blockedCount": blocked, "warnedCount": warned, "applicablePoliciesCount": 1, "complianceStatus": if blocked > 0 { "Non-Compliant" } else { "Compliant" }}),
    )
}

pub(super) fn registry_scan(s: &mut State, req: &Recorded, p: &Params) -> Response {
    let body = body_of(req);
    if text_field(&body, "imageName").is_none() {
        return bad_request("imageName should not be empty");
    }
    let github = req
        .path
        .starts_with("/integrations/github-container-registry/");
    if !github && text_field(&body, "credentialId").is_none() {
        return bad_request("credentialId should not be empty");
    }
    if let Some(c) = text_field(&body, "credentialId")
        && c == "missing-credential"
    {
        return error_body(StatusCode::NOT_FOUND, "Credential not found");
    }
    let sid = new_scan(s, p.get("projectId"), Some(Vec::new()));
    json_response(
        StatusCode::ACCEPTED,
        json!({"success": true, "message": "Container scan started", "scanId": sid, "detectedLanguages": []}),
    )
}

pub(super) fn profile(s: &mut State, _: &Recorded, _: &Params) -> Response {
    let orgs: Vec<Value> = s
        .orgs
        .iter()
        .map(|(id, o)| {
            let teams: Vec<Value> = s
                .teams
                .iter()
                .filter(|(_, t)| t.org == *id)
                .map(|(tid, t)| json!({"id": tid, "name": t.name, "myRole": "team_manager"}))
                .collect();
            json!({"id": id, "name": o.name, "country": "FR", "industry": "software", "isActive": true, "myTeams": teams, "myRole": "admin"})
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"id": uuid(0xB000), "firstName": "Dana", "lastName": "Double", "email": s.profile_email, "notification": true, "isOnboardingCompleted": true, "createdAt": TIME, "updatedAt": TIME, "myOrganizations": orgs}),
    )
}

fn pat_json(p: &UserPat) -> Value {
    // The identity provider's shape: the list carries the values too.
    json!({"name": p.name, "value": p.value, "createdAt": p.created_at, "expiresAt": p.expires_at})
}

pub(super) fn pats_list(s: &mut State, _: &Recorded, _: &Params) -> Response {
    json_response(
        StatusCode::OK,
        Value::Array(s.user_pats.iter().map(pat_json).collect()),
    )
}

pub(super) fn pat_create(s: &mut State, req: &Recorded, _: &Params) -> Response {
    let body = body_of(req);
    let Some(name) = text_field(&body, "name") else {
        return bad_request("name should not be empty");
    };
    if s.user_pats.iter().any(|p| p.name == name) {
        return error_body(
            StatusCode::CONFLICT,
            "A token with this name already exists",
        );
    }
    let expires_at = match body.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(t) if t > 1_700_000_000_000 => Some(t),
            _ => return bad_request("expiresAt must be a timestamp in milliseconds"),
        },
    };
    let n = s.user_pats.len() + 1;
    let value = s.next_pat_value.take().unwrap_or_else(|| {
        format!(
            "pat_double_{n:04}_{:016x}",
            0x5eed_u64.wrapping_mul(n as u64 + 7)
        )
    });
    let pat = UserPat {
        name: name.to_owned(),
        value,
        created_at: 1_767_225_600_000,
        expires_at,
    };
    s.pats.insert(pat.value.clone());
    let v = pat_json(&pat);
    s.user_pats.push(pat);
    json_response(StatusCode::CREATED, v)
}

pub(super) fn pat_delete(s: &mut State, req: &Recorded, _: &Params) -> Response {
    let body = body_of(req);
    let Some(name) = text_field(&body, "name") else {
        return bad_request("name should not be empty");
    };
    let Some(i) = s.user_pats.iter().position(|p| p.name == name) else {
        return error_body(StatusCode::NOT_FOUND, "Token not found");
    };
    let gone = s.user_pats.remove(i);
    s.pats.remove(&gone.value);
    json_response(
        StatusCode::OK,
        json!({"success": true, "message": "Token deleted"}),
    )
}

pub(super) fn pat_rename(s: &mut State, req: &Recorded, _: &Params) -> Response {
    let body = body_of(req);
    let (Some(name), Some(new_name)) = (text_field(&body, "name"), text_field(&body, "newName"))
    else {
        return bad_request("name and newName should not be empty");
    };
    if s.user_pats.iter().any(|p| p.name == new_name) {
        return error_body(
            StatusCode::CONFLICT,
            "A token with this name already exists",
        );
    }
    let Some(p) = s.user_pats.iter_mut().find(|p| p.name == name) else {
        return error_body(StatusCode::NOT_FOUND, "Token not found");
    };
    p.name = new_name.to_owned();
    json_response(
        StatusCode::OK,
        json!({"success": true, "message": "Token renamed"}),
    )
}
