//! `vault`: HashiCorp Vault or OpenBao over HTTP. KV v2 and v1; token, AppRole, JWT (CI OIDC
//! tokens) and Kubernetes auth; namespaces; a CA file. `VAULT_ADDR`, `VAULT_TOKEN`,
//! `VAULT_NAMESPACE` and `VAULT_CACERT` are honoured.
//!
//! ```yaml
//! ci-vault:
//!   type: vault
//!   address: https://vault.example.com      # default $VAULT_ADDR
//!   mount: secret
//!   path: ci/cybedefend
//!   field: pat
//!   auth: {method: approle, role_id_env: VAULT_ROLE_ID, secret_id_env: VAULT_SECRET_ID}
//! ```

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::credential::Credential;
use cybedefend_core::error::{Error, Result};
use cybedefend_core::provider::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::secret::{Secret, normalize_pat};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
    #[serde(default)]
    kv_version: Option<u8>,
    #[serde(default)]
    mount: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    auth: Option<Auth>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    mount: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    role_id_env: Option<String>,
    #[serde(default)]
    role_id_file: Option<PathBuf>,
    #[serde(default)]
    secret_id_env: Option<String>,
    #[serde(default)]
    secret_id_file: Option<PathBuf>,
    #[serde(default)]
    jwt_env: Option<String>,
    #[serde(default)]
    jwt_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Token,
    AppRole,
    Jwt,
    Kubernetes,
}

struct VaultProvider {
    id: String,
    address: Option<String>,
    namespace: Option<String>,
    ca_cert: Option<PathBuf>,
    kv_version: u8,
    mount: String,
    path: String,
    field: String,
    method: Method,
    auth: Auth,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A value from an environment variable or a file; `None` when neither is there.
fn value_from(env_name: Option<&str>, file: Option<&PathBuf>) -> Result<Option<String>> {
    if let Some(v) = env_name.and_then(env) {
        return Ok(Some(v));
    }
    if let Some(f) = file {
        return match std::fs::read_to_string(f) {
            Ok(t) => Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(cybedefend_core::fsutil::io_error("cannot read", f, &e)),
        };
    }
    Ok(None)
}

impl VaultProvider {
    fn client(&self) -> Result<reqwest::Client> {
        let mut b = cybedefend_core::http::client_builder(Duration::from_secs(10));
        let ca = self
            .ca_cert
            .clone()
            .or_else(|| env("VAULT_CACERT").map(PathBuf::from));
        if let Some(ca) = ca {
            let pem = std::fs::read(&ca).map_err(|e| {
                cybedefend_core::fsutil::io_error("cannot read the Vault CA file", &ca, &e)
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                Error::usage(format!(
                    "{} is not a PEM certificate: {e}",
                    cybedefend_core::paths::display(&ca)
                ))
            })?;
            b = b.add_root_certificate(cert);
        }
        b.build()
            .map_err(|e| Error::failure(format!("cannot set up the Vault client: {e}")))
    }

    fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        url: &str,
        token: Option<&Secret>,
    ) -> reqwest::RequestBuilder {
        let mut r = client.request(method, url);
        if let Some(t) = token {
            r = r.header("X-Vault-Token", t.expose());
        }
        if let Some(ns) = self.namespace.clone().or_else(|| env("VAULT_NAMESPACE")) {
            r = r.header("X-Vault-Namespace", ns);
        }
        r
    }

    async fn send(
        &self,
        addr: &str,
        what: &str,
        r: reqwest::RequestBuilder,
    ) -> Result<(u16, Value)> {
        let resp = r.send().await.map_err(|e| {
            if e.is_timeout() {
                return Error::failure(format!("Vault at {addr} did not answer ({what})"));
            }
            let mut cause: Option<&dyn std::error::Error> = Some(&e);
            let mut text = String::new();
            while let Some(c) = cause {
                text = c.to_string();
                cause = c.source();
            }
            if text.to_ascii_lowercase().contains("certificate") {
                Error::failure(format!(
                    "cannot verify Vault's TLS certificate at {addr} ({text})"
                ))
                .with_hint("give the CA that signed it with `ca_cert` or VAULT_CACERT")
            } else {
                Error::failure(format!("cannot connect to Vault at {addr} ({what})"))
                    .with_hint("check `address` / VAULT_ADDR and the network")
            }
        })?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status == 503 {
            let sealed = body.to_string().contains("sealed");
            return Err(Error::failure(if sealed {
                format!("Vault at {addr} is sealed ({what})")
            } else {
                format!("Vault at {addr} is unavailable (HTTP 503, {what})")
            })
            .with_hint("ask the Vault operators to unseal it, or retry later"));
        }
        Ok((status, body))
    }

    fn errors(body: &Value) -> String {
        body.get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// The token to read with, or `None` (not found) when this machine has no Vault identity.
    async fn login(&self, client: &reqwest::Client, addr: &str) -> Result<Result<Secret, String>> {
        let a = &self.auth;
        let (mount, payload) = match self.method {
            Method::Token => {
                let var = a.token_env.clone().unwrap_or_else(|| "VAULT_TOKEN".into());
                let file = a.token_file.clone().or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".vault-token"))
                });
                return Ok(match value_from(Some(&var), file.as_ref())? {
                    Some(t) => Ok(Secret::new(t)),
                    None => Err(format!("no Vault token ({var} is not set, no token file)")),
                });
            }
            Method::AppRole => {
                let role = value_from(
                    Some(a.role_id_env.as_deref().unwrap_or("VAULT_ROLE_ID")),
                    a.role_id_file.as_ref(),
                )?;
                let secret = value_from(
                    Some(a.secret_id_env.as_deref().unwrap_or("VAULT_SECRET_ID")),
                    a.secret_id_file.as_ref(),
                )?;
                let (Some(role), Some(secret)) = (role, secret) else {
                    return Ok(Err("no AppRole role_id / secret_id on this machine".into()));
                };
                cybedefend_core::redact::register(&secret);
                (
                    a.mount.clone().unwrap_or_else(|| "approle".into()),
                    json!({"role_id": role, "secret_id": secret}),
                )
            }
            Method::Jwt | Method::Kubernetes => {
                let default_file = (self.method == Method::Kubernetes)
                    .then(|| PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token"));
                let file = a.jwt_file.clone().or(a.token_file.clone()).or(default_file);
                let Some(jwt) = value_from(a.jwt_env.as_deref(), file.as_ref())? else {
                    return Ok(Err("no JWT on this machine (jwt_env / jwt_file)".into()));
                };
                cybedefend_core::redact::register(&jwt);
                let role = a.role.clone().ok_or_else(|| {
                    Error::usage(format!(
                        "provider `{}`: `auth.role` is required for {:?} auth",
                        self.id, self.method
                    ))
                })?;
                let default_mount = if self.method == Method::Jwt {
                    "jwt"
                } else {
                    "kubernetes"
                };
                (
                    a.mount.clone().unwrap_or_else(|| default_mount.into()),
                    json!({"role": role, "jwt": jwt}),
                )
            }
        };
        let url = format!("{addr}/v1/auth/{mount}/login");
        let (status, body) = self
            .send(
                addr,
                "login",
                self.request(client, reqwest::Method::POST, &url, None)
                    .json(&payload),
            )
            .await?;
        match status {
            200 => body
                .pointer("/auth/client_token")
                .and_then(Value::as_str)
                .map(|t| Ok(Secret::new(t)))
                .ok_or_else(|| Error::failure(format!("Vault login at auth/{mount} answered without a token"))),
            400 | 401 | 403 => Err(Error::auth(format!(
                "Vault refused the {:?} login at auth/{mount} (HTTP {status}): {}",
                self.method,
                Self::errors(&body)
            ))
            .with_hint("check the role and its credentials (role_id/secret_id, JWT audience and bound claims)")),
            _ => Err(Error::failure(format!("Vault login at auth/{mount} failed (HTTP {status}): {}", Self::errors(&body)))),
        }
    }
}

#[async_trait]
impl CredentialProvider for VaultProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "vault"
    }

    async fn resolve(&self, _ctx: &ResolveContext) -> Result<Lookup> {
        let Some(addr) = self.address.clone().or_else(|| env("VAULT_ADDR")) else {
            return Ok(Lookup::NotFound(
                "no Vault address (`address` or VAULT_ADDR)".into(),
            ));
        };
        let addr = addr.trim_end_matches('/').to_owned();
        cybedefend_core::config::check_url("address", &addr, &format!("provider `{}`", self.id))?;
        let client = self.client()?;
        let token = match self.login(&client, &addr).await? {
            Ok(t) => t,
            Err(why) => return Ok(Lookup::NotFound(why)),
        };
        let (api_path, shown) = if self.kv_version == 1 {
            (
                format!("{}/{}", self.mount, self.path),
                format!("{}/{}", self.mount, self.path),
            )
        } else {
            (
                format!("{}/data/{}", self.mount, self.path),
                format!("{}/data/{}", self.mount, self.path),
            )
        };
        let url = format!("{addr}/v1/{api_path}");
        let (status, body) = self
            .send(
                &addr,
                "read",
                self.request(&client, reqwest::Method::GET, &url, Some(&token)),
            )
            .await?;
        match status {
            200 => {}
            404 => return Ok(Lookup::NotFound(format!("no secret at {shown}"))),
            403 => {
                return Err(Error::auth(format!(
                    "Vault denied reading {shown} (HTTP 403): the token's policy lacks `read` on that path"
                ))
                .with_hint(format!("add a policy with `path \"{shown}\" {{ capabilities = [\"read\"] }}` to the role")));
            }
            _ => {
                return Err(Error::failure(format!(
                    "Vault read of {shown} failed (HTTP {status}): {}",
                    Self::errors(&body)
                )));
            }
        }
        let data = if self.kv_version == 1 {
            body.get("data")
        } else {
            body.pointer("/data/data")
        };
        let Some(data) = data.and_then(Value::as_object) else {
            return Ok(Lookup::NotFound(format!(
                "the secret at {shown} has no data (wrong kv_version?)"
            )));
        };
        let Some(value) = data.get(&self.field).and_then(Value::as_str) else {
            let fields: Vec<&str> = data.keys().map(String::as_str).collect();
            return Ok(Lookup::NotFound(format!(
                "the secret at {shown} has no field `{}` (fields: {})",
                self.field,
                fields.join(", ")
            )));
        };
        match normalize_pat(value) {
            Ok(Some(pat)) => Ok(Lookup::Found(Found {
                credential: Credential::Pat(pat),
                detail: format!("{addr} {shown} field `{}`", self.field),
                region: None,
                storage: None,
                plaintext: false,
                warning: None,
            })),
            Ok(None) => Ok(Lookup::NotFound(format!(
                "field `{}` at {shown} is empty",
                self.field
            ))),
            Err(e) => Err(Error::failure(format!("the PAT at {shown} {e}"))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let bad = |what: &str| {
        Error::usage(format!(
            "provider `{}` (from {}): {what}",
            init.id, init.origin
        ))
    };
    let path = o
        .path
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| bad("`path` is required (the secret's path under the mount)"))?;
    let kv_version = o.kv_version.unwrap_or(2);
    if kv_version != 1 && kv_version != 2 {
        return Err(bad("`kv_version` must be 1 or 2"));
    }
    let auth = o.auth.unwrap_or_default();
    let method = match auth.method.as_deref().unwrap_or("token") {
        "token" => Method::Token,
        "approle" => Method::AppRole,
        "jwt" => Method::Jwt,
        "kubernetes" => Method::Kubernetes,
        other => {
            return Err(bad(&format!(
                "unknown auth method `{other}`: expected token, approle, jwt or kubernetes"
            )));
        }
    };
    Ok(Box::new(VaultProvider {
        id: init.id.to_owned(),
        address: o.address,
        namespace: o.namespace,
        ca_cert: o.ca_cert,
        kv_version,
        mount: o
            .mount
            .unwrap_or_else(|| "secret".into())
            .trim_matches('/')
            .to_owned(),
        path: path.trim_matches('/').to_owned(),
        field: o.field.unwrap_or_else(|| "pat".into()),
        method,
        auth,
    }))
}

inventory::submit! {
    ProviderFactory {
        kind: "vault",
        summary: "HashiCorp Vault / OpenBao KV (token, AppRole, JWT or Kubernetes auth)",
        default_position: None,
        default_timeout: Some(Duration::from_secs(20)),
        create,
    }
}
