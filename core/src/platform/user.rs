//! The account behind a credential: its profile, and its personal access tokens.
//!
//! The spec gives the PAT endpoints no request or answer schema. What this module assumes
//! (the identity provider's model: a PAT is named, its name is unique per user):
//! - create sends `{name, expiresAt?}` (`expiresAt` in milliseconds since the epoch) and the
//!   answer carries the new PAT as `value` (also read: `token`, `pat`, `personalAccessToken`);
//! - list answers an array, or an object with the array under `tokens`,
//!   `personalAccessTokens`, `items` or `data`; each item has `name`, `createdAt`, `expiresAt`;
//! - delete sends `{name}`; rename sends `{name, newName}`.
//!
//! Any answer is accepted and kept whole for `--json`, with the secret fields masked.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::platform::api::{About, Answer, Api, about};
use crate::platform::de;

/// An organisation of the account.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Organization {
    /// What `--organization-id` takes.
    #[serde(default, deserialize_with = "de::text")]
    pub id: Option<String>,
    /// Its display name.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub name: String,
    /// The account's role there.
    #[serde(default, rename = "myRole", deserialize_with = "de::text")]
    pub role: Option<String>,
}

impl Organization {
    /// `Acme (id o1, admin)`: what `--organization-id` takes, named.
    pub fn described(&self) -> String {
        format!(
            "{} (id {}{})",
            self.name,
            self.id.as_deref().unwrap_or("-"),
            self.role
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default()
        )
    }
}

/// The fields of the profile this CLI shows.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    /// The user's id on the platform.
    #[serde(default, deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The address the account signs in with.
    #[serde(default, deserialize_with = "de::text")]
    pub email: Option<String>,
    #[serde(default, rename = "firstName", deserialize_with = "de::text")]
    first_name: Option<String>,
    #[serde(default, rename = "lastName", deserialize_with = "de::text")]
    last_name: Option<String>,
    /// Organisations.
    #[serde(
        default,
        rename = "myOrganizations",
        deserialize_with = "de::lenient_list"
    )]
    pub organizations: Vec<Organization>,
}

impl Profile {
    /// First and last name.
    pub fn name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `GET /user/profile`.
pub async fn profile(api: &Api<'_>) -> Result<Answer<Profile>> {
    api.get_answer("account profile", "/user/profile", &[])
        .await
}

/// Fields of a PAT object that hold the secret.
pub const SECRET_FIELDS: &[&str] = &["value", "token", "pat", "personalAccessToken", "secret"];

/// A PAT as listed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PatInfo {
    /// Given at creation, one per PAT of the user: what `pat revoke` and `pat rename` take.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub name: String,
    /// Created (as sent: text or epoch milliseconds).
    #[serde(default, rename = "createdAt", deserialize_with = "de::text")]
    pub created_at: Option<String>,
    /// Expires (as sent), absent for never.
    #[serde(default, rename = "expiresAt", deserialize_with = "de::text")]
    pub expires_at: Option<String>,
}

/// The PATs of a list answer, whatever its shape.
#[derive(Debug, Clone, Default)]
pub struct PatList {
    /// The PATs.
    pub tokens: Vec<PatInfo>,
}

fn items_of(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::Object(o) => ["tokens", "personalAccessTokens", "items", "data"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array).cloned()),
        _ => None,
    }
}

impl<'de> Deserialize<'de> for PatList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let items = items_of(&v).ok_or_else(|| {
            serde::de::Error::custom(
                "expected a list of tokens (or an object with `tokens`, `personalAccessTokens`, `items` or `data`)",
            )
        })?;
        Ok(Self {
            tokens: items
                .into_iter()
                .filter_map(|t| serde_json::from_value(t).ok())
                .collect(),
        })
    }
}

/// Fields of a PAT object known to hold no secret; every other text is masked.
pub const PLAIN_FIELDS: &[&str] = &[
    "name",
    "newname",
    "id",
    "createdat",
    "updatedat",
    "expiresat",
    "lastusedat",
    "tenantid",
    "userid",
    "description",
    "scope",
    "scopes",
    "message",
    "success",
    "status",
];

/// A copy of `v` where every text that is not under a field known to be plain
/// ([`PLAIN_FIELDS`], any case) is replaced by `"***"`, at any depth: a server that sends a
/// PAT under a name this CLI does not know still has it masked.
pub fn masked(v: &Value) -> Value {
    fn walk(v: &Value, plain: bool) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let plain = PLAIN_FIELDS.contains(&k.to_ascii_lowercase().as_str());
                        (k.clone(), walk(x, plain))
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, plain)).collect()),
            Value::String(_) if !plain => Value::String("***".into()),
            other => other.clone(),
        }
    }
    walk(v, false)
}

/// `GET /user/personal-access-tokens`.
pub async fn pats(api: &Api<'_>) -> Result<Answer<PatList>> {
    api.get_answer("pat list", "/user/personal-access-tokens", &[])
        .await
}

#[derive(Serialize)]
struct NewPat<'a> {
    name: &'a str,
    #[serde(rename = "expiresAt", skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

/// A created PAT: the answer (secret fields masked) and the secret itself.
pub struct CreatedPat {
    /// The answer with its secret fields masked.
    pub masked: Value,
    /// The answer as sent, secret included (for `pat create --json`, which prints it once).
    pub raw: Value,
    /// The new PAT.
    pub secret: crate::Secret,
}

/// `POST /user/personal-access-tokens`; `expires_at` in milliseconds since the epoch.
pub async fn create_pat(api: &Api<'_>, name: &str, expires_at: Option<i64>) -> Result<CreatedPat> {
    let raw: Value = api
        .post(
            "pat create",
            "/user/personal-access-tokens",
            &NewPat { name, expires_at },
        )
        .await
        .map_err(|e| {
            if e.http_status() == Some(409) {
                Error::usage(format!("a PAT named `{name}` already exists (HTTP 409); nothing was created"))
                    .with_hint(format!(
                        "pick another name, or revoke the old one first: `cybedefend pat revoke --name {}` (`cybedefend pat list` shows the names)",
                        crate::text::shell_word(name)
                    ))
                    .with_status(409)
            } else {
                e
            }
        })?;
    let secret = SECRET_FIELDS
        .iter()
        .find_map(|k| {
            let holder = raw.get("data").filter(|d| d.is_object()).unwrap_or(&raw);
            holder.get(*k).and_then(Value::as_str).map(str::to_owned)
        })
        .ok_or_else(|| {
            Error::failure(
                "pat create: the answer has no token (looked for `value`, `token`, `pat`, `personalAccessToken`, `secret`); the PAT may have been created",
            )
            .with_hint("`cybedefend pat list` shows it; revoke it there and retry, or create one in the web app")
        })?;
    let secret = crate::Secret::new(secret);
    Ok(CreatedPat {
        masked: masked(&raw),
        raw,
        secret,
    })
}

/// `POST /user/personal-access-tokens/delete` with `{name}`.
pub async fn revoke_pat(api: &Api<'_>, name: &str) -> Result<Value> {
    api.post(
        "pat revoke",
        "/user/personal-access-tokens/delete",
        &serde_json::json!({"name": name}),
    )
    .await
    .map_err(about(About::pat(name)))
}

/// `PATCH /user/personal-access-tokens/name` with `{name, newName}`.
pub async fn rename_pat(api: &Api<'_>, name: &str, new_name: &str) -> Result<Value> {
    api.patch(
        "pat rename",
        "/user/personal-access-tokens/name",
        &serde_json::json!({"name": name, "newName": new_name}),
    )
    .await
    .map_err(about(About::pat(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_at_any_depth_and_lists_of_any_shape_read() {
        let v = json!({"data": [{"name": "ci", "value": "pat_x", "nested": {"token": "t"}, "Key": "k", "tokenValue": "v", "createdAt": 5, "expiresAt": "2026-01-01"}]});
        let m = masked(&v);
        assert_eq!(m["data"][0]["value"], "***");
        assert_eq!(m["data"][0]["nested"]["token"], "***");
        assert_eq!(m["data"][0]["Key"], "***");
        assert_eq!(m["data"][0]["tokenValue"], "***");
        assert_eq!(m["data"][0]["name"], "ci");
        assert_eq!(m["data"][0]["createdAt"], 5);
        assert_eq!(m["data"][0]["expiresAt"], "2026-01-01");
        assert_eq!(masked(&json!(["pat_bare"])), json!(["***"]));
        let l: PatList = serde_json::from_value(v).unwrap();
        assert_eq!(l.tokens.len(), 1);
        let l: PatList = serde_json::from_value(json!([{"name": "a"}, 3])).unwrap();
        assert_eq!(l.tokens.len(), 1);
        assert!(serde_json::from_value::<PatList>(json!("hello")).is_err());
        assert!(serde_json::from_value::<PatList>(json!({"x": 1})).is_err());
        assert!(serde_json::from_value::<PatList>(Value::Null).is_err());
    }
}
