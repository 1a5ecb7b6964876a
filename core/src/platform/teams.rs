//! Teams of an organisation and their members.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::platform::api::{About, Answer, Api, Kind, about, seg};
use crate::platform::de;

/// The fields of a team this CLI shows.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Team {
    /// Id (`id`, or `teamId` in the create answer).
    #[serde(default, deserialize_with = "de::text")]
    id: Option<String>,
    #[serde(default, rename = "teamId", deserialize_with = "de::text")]
    team_id: Option<String>,
    /// The team's name (empty when the server sent none).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub name: String,
    /// Free text; empty when there is none.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub description: String,
    /// Creation time as sent.
    #[serde(default, rename = "createdAt", deserialize_with = "de::text")]
    pub created_at: Option<String>,
}

impl Team {
    /// `id`, else `teamId`.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref().or(self.team_id.as_deref())
    }
}

/// Roles a member can have.
pub const ROLES: &[&str] = &[
    "team_manager",
    "analyst_developer",
    "developer",
    "read_only",
];

#[derive(Serialize)]
struct NameAndDescription<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct Member<'a> {
    #[serde(rename = "userId")]
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
}

/// `POST /organization/{org}/team`.
pub async fn create(
    api: &Api<'_>,
    org: &str,
    name: &str,
    description: &str,
) -> Result<Answer<Team>> {
    let path = format!("/organization/{}/team", seg(org));
    let body = NameAndDescription {
        name: Some(name),
        description: Some(description),
    };
    let raw: Value = api
        .post("team create", &path, &body)
        .await
        .map_err(about(About::organisation(org)))?;
    Answer::read("team create", raw)
}

/// `DELETE /team/{team}`.
pub async fn delete(api: &Api<'_>, id: &str) -> Result<Value> {
    let path = format!("/team/{}", seg(id));
    api.delete("team delete", &path)
        .await
        .map_err(about(About::team(id)))
}

/// `GET /organization/{org}/team/{team}`.
pub async fn get(api: &Api<'_>, org: &str, id: &str) -> Result<Answer<Team>> {
    let path = format!("/organization/{}/team/{}", seg(org), seg(id));
    api.get_answer("team get", &path, &[])
        .await
        .map_err(about(About::described(
            Kind::Team,
            format!("team `{id}` of organisation `{org}`"),
        )))
}

/// The teams of a list answer: the spec's array or the official CLI's `{"teams": [...]}`.
#[derive(Debug, Clone, Default)]
pub struct TeamList {
    /// In the server's order.
    pub teams: Vec<Team>,
}

impl<'de> Deserialize<'de> for TeamList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let items = match v {
            Value::Array(a) => a,
            Value::Object(mut o) => match o.remove("teams") {
                Some(Value::Array(a)) => a,
                _ => {
                    return Err(serde::de::Error::custom(
                        "expected a list of teams, or an object with `teams`",
                    ));
                }
            },
            _ => {
                return Err(serde::de::Error::custom(
                    "expected a list of teams, or an object with `teams`",
                ));
            }
        };
        Ok(Self {
            teams: items
                .into_iter()
                .filter_map(|t| serde_json::from_value(t).ok())
                .collect(),
        })
    }
}

/// `GET /organization/{org}/teams`.
pub async fn list(api: &Api<'_>, org: &str) -> Result<Answer<TeamList>> {
    let path = format!("/organization/{}/teams", seg(org));
    api.get_answer("team list", &path, &[])
        .await
        .map_err(about(About::organisation(org)))
}

/// `PUT /team/{team}` with the fields given (the official CLI sends a partial body).
pub async fn update(
    api: &Api<'_>,
    id: &str,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<Value> {
    let path = format!("/team/{}", seg(id));
    api.put(
        "team update",
        &path,
        &NameAndDescription { name, description },
    )
    .await
    .map_err(about(About::team(id)))
}

/// A member as listed. The spec's member has `firstName`/`lastName`/`picture`; the official
/// CLI reads `name`/`avatar`: both are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TeamMember {
    /// User id.
    #[serde(default, deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The member's email address (empty when the server sent none).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub email: String,
    #[serde(default, deserialize_with = "de::text")]
    name: Option<String>,
    #[serde(default, rename = "firstName", deserialize_with = "de::text")]
    first_name: Option<String>,
    #[serde(default, rename = "lastName", deserialize_with = "de::text")]
    last_name: Option<String>,
    /// `admin`, `member`, ... as the server spells it.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub role: String,
}

impl TeamMember {
    /// `name`, else first and last name.
    pub fn name(&self) -> String {
        match (&self.name, &self.first_name, &self.last_name) {
            (Some(n), _, _) => n.clone(),
            (None, f, l) => [f.as_deref(), l.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A page of members.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Members {
    /// The members.
    #[serde(default, deserialize_with = "de::lenient_list")]
    pub users: Vec<TeamMember>,
    /// Members in all.
    #[serde(default, rename = "totalUsers", deserialize_with = "de::count")]
    pub total_users: Option<u64>,
    /// Pages in all.
    #[serde(default, rename = "totalPages", deserialize_with = "de::count")]
    pub total_pages: Option<u64>,
}

/// Largest page of members the API serves.
pub const MEMBER_PAGE_SIZE: u64 = 20;

/// `GET /team/{team}/members?page&pageSize[&search]`.
pub async fn members(
    api: &Api<'_>,
    id: &str,
    page: u64,
    page_size: u64,
    search: Option<&str>,
) -> Result<Answer<Members>> {
    let path = format!("/team/{}/members", seg(id));
    let mut q = vec![
        ("page".to_owned(), page.to_string()),
        ("pageSize".to_owned(), page_size.to_string()),
    ];
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        q.push(("search".to_owned(), s.to_owned()));
    }
    api.get_answer("team members", &path, &q)
        .await
        .map_err(about(About::team(id)))
}

/// `POST /team/{team}/member`.
pub async fn add_member(api: &Api<'_>, id: &str, user: &str, role: &str) -> Result<Value> {
    let path = format!("/team/{}/member", seg(id));
    let body = Member {
        user_id: user,
        role: Some(role),
    };
    api.post("team add-member", &path, &body)
        .await
        .map_err(about(About::team(id)))
}

/// `PUT /team/{team}/member/role`.
pub async fn update_member(api: &Api<'_>, id: &str, user: &str, role: &str) -> Result<Value> {
    let path = format!("/team/{}/member/role", seg(id));
    let body = Member {
        user_id: user,
        role: Some(role),
    };
    api.put("team update-member", &path, &body)
        .await
        .map_err(about(About::described(
            Kind::Team,
            format!("member `{user}` of team `{id}`"),
        )))
}

/// `DELETE /team/{team}/member` with `{userId}`.
pub async fn remove_member(api: &Api<'_>, id: &str, user: &str) -> Result<Value> {
    let path = format!("/team/{}/member", seg(id));
    let body = Member {
        user_id: user,
        role: None,
    };
    api.delete_with("team remove-member", &path, &body)
        .await
        .map_err(about(About::described(
            Kind::Team,
            format!("member `{user}` of team `{id}`"),
        )))
}
