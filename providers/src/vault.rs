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
//!
//! Safety: https only (plain http on loopback), redirects followed to the same origin only (no
//! token or secret_id after a downgrade or to another host), answers capped at 1 MiB, files
//! (token, JWT, CA) read as regular files of bounded size off the async runtime, every token,
//! secret_id and JWT registered for redaction, Vault's error texts cut to one safe line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use cybedefend_core::Secret;
use cybedefend_core::credentials::{
    CredentialProvider, Found, Lookup, ProviderFactory, ProviderInit, ResolveContext,
};
use cybedefend_core::fsutil::{self, ReadError};
use cybedefend_core::platform::http;
use cybedefend_core::secret::normalize_pat;
use cybedefend_core::secret::redact;
use cybedefend_core::{Error, Result};
use cybedefend_core::{env, text};
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

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Token => "token",
            Method::AppRole => "AppRole",
            Method::Jwt => "JWT",
            Method::Kubernetes => "Kubernetes",
        }
    }
}

/// The service account token Kubernetes mounts into every pod.
const KUBERNETES_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Largest CA bundle read.
const CA_FILE_CAP: u64 = 1 << 20;

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

fn env_value(name: &str) -> Result<Option<String>> {
    env::non_empty(name)
}

/// A file's text (trimmed), read safely; `None` when it does not exist.
async fn file_value(path: &Path, cap: u64) -> Result<Option<String>> {
    match fsutil::read_capped_async(path.to_owned(), cap, true).await {
        Ok(b) => {
            let t = String::from_utf8(b).map_err(|_| {
                Error::failure(format!(
                    "{} is not UTF-8 text",
                    cybedefend_core::home::tilde(path)
                ))
            })?;
            let (t, _) = cybedefend_core::secret::strip_bom(&t);
            Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty()))
        }
        Err(ReadError::NotFound) => Ok(None),
        Err(e) => Err(e.into_error("file", path)),
    }
}

/// A value from an environment variable or a file; `None` when neither has it. Secrets read
/// this way are registered for redaction.
async fn value_from(env_name: Option<&str>, file: Option<&PathBuf>) -> Result<Option<String>> {
    if let Some(name) = env_name
        && let Some(v) = env_value(name)?
    {
        redact::register(&v);
        return Ok(Some(v));
    }
    if let Some(f) = file
        && let Some(v) = file_value(f, fsutil::SECRET_FILE_CAP).await?
    {
        redact::register(&v);
        return Ok(Some(v));
    }
    Ok(None)
}

/// "VAULT_ROLE_ID is not set, and /etc/vault/role_id does not exist" for not-found messages.
fn looked_at(env_name: Option<&str>, file: Option<&PathBuf>) -> String {
    let mut parts = Vec::new();
    if let Some(e) = env_name {
        parts.push(format!("{e} is not set"));
    }
    if let Some(f) = file {
        parts.push(format!(
            "{} does not exist",
            cybedefend_core::home::tilde(f)
        ));
    }
    parts.join(", and ")
}

fn errors(body: &Value) -> String {
    let joined = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    text::one_line(&redact::redact(&joined), 300)
}

impl VaultProvider {
    async fn client(&self) -> Result<reqwest::Client> {
        let mut roots = Vec::new();
        let ca = match &self.ca_cert {
            Some(p) => Some(p.clone()),
            None => env_value("VAULT_CACERT")?.map(PathBuf::from),
        };
        if let Some(ca) = ca {
            let pem = file_value(&ca, CA_FILE_CAP).await?.ok_or_else(|| {
                Error::usage(format!(
                    "the Vault CA file {} does not exist",
                    cybedefend_core::home::tilde(&ca)
                ))
                .with_hint("fix `ca_cert` or VAULT_CACERT")
            })?;
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<std::result::Result<_, _>>()
                    .ok()
                    .filter(|c: &Vec<_>| !c.is_empty())
                    .ok_or_else(|| {
                        Error::usage(format!(
                        "the Vault CA file {} holds no PEM certificate",
                        cybedefend_core::home::tilde(&ca)
                    ))
                    .with_hint(
                        "`ca_cert` / VAULT_CACERT takes a PEM file (-----BEGIN CERTIFICATE-----)",
                    )
                    })?;
            roots = certs;
        }
        http::client_builder_with_roots(Duration::from_secs(10), &roots)?
            .build()
            .map_err(|e| Error::failure(format!("cannot set up the Vault client: {e}")))
    }

    fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        url: &str,
        token: Option<&Secret>,
    ) -> Result<reqwest::RequestBuilder> {
        let mut r = client.request(method, url);
        if let Some(t) = token {
            r = r.header("X-Vault-Token", t.expose());
        }
        let ns = match &self.namespace {
            Some(n) => Some(n.clone()),
            None => env_value("VAULT_NAMESPACE")?,
        };
        if let Some(ns) = ns {
            r = r.header("X-Vault-Namespace", ns);
        }
        Ok(r)
    }

    async fn send(
        &self,
        addr: &str,
        what: &str,
        r: reqwest::RequestBuilder,
    ) -> Result<(u16, Value)> {
        let resp = r.send().await.map_err(|e| {
            if let Some(tls) = http::tls_failure(&e) {
                return Error::network(format!(
                    "cannot verify Vault's TLS certificate at {addr} ({})",
                    tls.text
                ))
                .with_hint("give the CA that signed it with `ca_cert` or VAULT_CACERT");
            }
            if e.is_timeout() {
                return Error::network(format!("Vault at {addr} did not answer ({what})"));
            }
            Error::network(format!("cannot connect to Vault at {addr} ({what})"))
                .with_hint("check `address` / VAULT_ADDR and the network")
        })?;
        if resp.status().is_redirection() {
            return Err(http::redirect_error(&format!("Vault {what}"), &resp));
        }
        let status = resp.status().as_u16();
        let bytes = http::read_body(&format!("Vault {what}"), resp, http::SMALL_BODY_CAP).await?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 503 {
            let sealed = body
                .get("errors")
                .is_some_and(|e| e.to_string().contains("sealed"));
            return Err(Error::network(if sealed {
                format!("Vault at {addr} is sealed ({what})")
            } else {
                format!("Vault at {addr} is unavailable (HTTP 503, {what})")
            })
            .with_hint("ask the Vault operators to unseal it, or retry later"));
        }
        Ok((status, body))
    }

    /// The token to read with, or `Err(why)` (not found) when this machine has no Vault
    /// identity.
    async fn login(
        &self,
        client: &reqwest::Client,
        addr: &str,
    ) -> Result<std::result::Result<Secret, String>> {
        let a = &self.auth;
        let (mount, payload) = match self.method {
            Method::Token => {
                let var = a.token_env.clone().unwrap_or_else(|| "VAULT_TOKEN".into());
                let file = a.token_file.clone().or_else(|| {
                    env::path_var(env::HOME).map(|h| PathBuf::from(h).join(".vault-token"))
                });
                return Ok(match value_from(Some(&var), file.as_ref()).await? {
                    Some(t) => Ok(Secret::new(t)),
                    None => Err(format!(
                        "no Vault token: {}",
                        looked_at(Some(&var), file.as_ref())
                    )),
                });
            }
            Method::AppRole => {
                let role_env = a.role_id_env.as_deref().unwrap_or("VAULT_ROLE_ID");
                let secret_env = a.secret_id_env.as_deref().unwrap_or("VAULT_SECRET_ID");
                let role = value_from(Some(role_env), a.role_id_file.as_ref()).await?;
                let secret = value_from(Some(secret_env), a.secret_id_file.as_ref()).await?;
                let (Some(role), Some(secret)) = (role, secret) else {
                    return Ok(Err(format!(
                        "no AppRole credentials on this machine: {}; {}",
                        looked_at(Some(role_env), a.role_id_file.as_ref()),
                        looked_at(Some(secret_env), a.secret_id_file.as_ref())
                    )));
                };
                (
                    a.mount.clone().unwrap_or_else(|| "approle".into()),
                    json!({"role_id": role, "secret_id": secret}),
                )
            }
            Method::Jwt | Method::Kubernetes => {
                let default_file =
                    (self.method == Method::Kubernetes).then(|| PathBuf::from(KUBERNETES_TOKEN));
                let file = a.jwt_file.clone().or(a.token_file.clone()).or(default_file);
                let Some(jwt) = value_from(a.jwt_env.as_deref(), file.as_ref()).await? else {
                    return Ok(Err(format!(
                        "no JWT on this machine: {}",
                        looked_at(a.jwt_env.as_deref(), file.as_ref())
                    )));
                };
                let role = a.role.clone().ok_or_else(|| {
                    Error::usage(format!(
                        "provider `{}`: `auth.role` is required for {} auth",
                        self.id,
                        self.method.name()
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
        let request = self.request(client, reqwest::Method::POST, &url, None)?;
        let (status, body) = self.send(addr, "login", request.json(&payload)).await?;
        let method = self.method.name();
        match status {
            200 => body
                .pointer("/auth/client_token")
                .and_then(Value::as_str)
                .filter(|t| text::is_visible_ascii(t))
                .map(|t| Ok(Secret::new(t)))
                .ok_or_else(|| {
                    Error::failure(format!(
                        "Vault login at auth/{mount} answered without a usable token"
                    ))
                }),
            400 | 401 | 403 => Err(Error::auth(format!(
                "Vault refused the {method} login at auth/{mount} (HTTP {status}): {}",
                errors(&body)
            ))
            .with_hint("check the role and its credentials (role_id/secret_id, JWT audience and bound claims)")),
            _ => Err(Error::failure(format!(
                "Vault login at auth/{mount} failed (HTTP {status}): {}",
                errors(&body)
            ))),
        }
    }
}

#[async_trait]
impl CredentialProvider for VaultProvider {
    async fn resolve(&self, _ctx: &ResolveContext) -> Result<Lookup> {
        let addr = match &self.address {
            Some(a) => a.clone(),
            None => match env_value("VAULT_ADDR")? {
                Some(a) => a,
                None => return Lookup::not_found("no Vault address (`address` or VAULT_ADDR)"),
            },
        };
        let addr = addr.trim_end_matches('/').to_owned();
        cybedefend_core::config::net::check_url(
            "address",
            &addr,
            &format!("provider `{}`", self.id),
        )?;
        let client = self.client().await?;
        let token = match self.login(&client, &addr).await? {
            Ok(t) => t,
            Err(why) => return Lookup::not_found(why),
        };
        let shown = if self.kv_version == 1 {
            format!("{}/{}", self.mount, self.path)
        } else {
            format!("{}/data/{}", self.mount, self.path)
        };
        let url = format!("{addr}/v1/{shown}");
        let request = self.request(&client, reqwest::Method::GET, &url, Some(&token))?;
        let (status, body) = self.send(&addr, "read", request).await?;
        match status {
            200 => {}
            404 => return Lookup::not_found(format!("no secret at {shown}")),
            403 => {
                return Err(Error::auth(format!(
                    "Vault denied reading {shown} (HTTP 403): the token's policy lacks `read` on that path"
                ))
                .with_hint(format!("add a policy with `path \"{shown}\" {{ capabilities = [\"read\"] }}` to the role")));
            }
            _ => {
                return Err(Error::failure(format!(
                    "Vault read of {shown} failed (HTTP {status}): {}",
                    errors(&body)
                )));
            }
        }
        let data = if self.kv_version == 1 {
            body.get("data")
        } else {
            body.pointer("/data/data")
        };
        let Some(data) = data.and_then(Value::as_object) else {
            return Lookup::not_found(format!(
                "the secret at {shown} has no data (wrong kv_version?)"
            ));
        };
        let Some(value) = data.get(&self.field).and_then(Value::as_str) else {
            let fields: Vec<String> = data
                .keys()
                .take(20)
                .map(|k| text::one_line(k, 40))
                .collect();
            return Lookup::not_found(format!(
                "the secret at {shown} has no field `{}` (fields: {})",
                self.field,
                fields.join(", ")
            ));
        };
        redact::register(value);
        match normalize_pat(value) {
            Ok(Some(pat)) => {
                Found::pat(pat, format!("{addr} {shown} field `{}`", self.field)).into_lookup()
            }
            Ok(None) => Lookup::not_found(format!("field `{}` at {shown} is empty", self.field)),
            Err(e) => Err(Error::failure(format!("the PAT at {shown} {e}"))),
        }
    }
}

fn create(init: &ProviderInit<'_>) -> Result<Box<dyn CredentialProvider>> {
    let o: Options = init.options()?;
    let path = o
        .path
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| init.error("`path` is required (the secret's path under the mount)"))?;
    let kv_version = o.kv_version.unwrap_or(2);
    if kv_version != 1 && kv_version != 2 {
        return Err(init.error("`kv_version` must be 1 or 2"));
    }
    let mut auth = o.auth.unwrap_or_default();
    for (key, slot) in [
        ("auth.token_file", &mut auth.token_file),
        ("auth.role_id_file", &mut auth.role_id_file),
        ("auth.secret_id_file", &mut auth.secret_id_file),
        ("auth.jwt_file", &mut auth.jwt_file),
    ] {
        if let Some(p) = slot.take() {
            *slot = Some(init.absolute_path(key, &p)?);
        }
    }
    let method = match auth.method.as_deref().unwrap_or("token") {
        "token" => Method::Token,
        "approle" => Method::AppRole,
        "jwt" => Method::Jwt,
        "kubernetes" => Method::Kubernetes,
        other => {
            return Err(init.error(format!(
                "unknown auth method `{other}`: expected token, approle, jwt or kubernetes"
            )));
        }
    };
    Ok(Box::new(VaultProvider {
        id: init.id.to_owned(),
        address: o.address,
        namespace: o.namespace,
        ca_cert: o
            .ca_cert
            .map(|p| init.absolute_path("ca_cert", &p))
            .transpose()?,
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
    ProviderFactory::new(
        "vault",
        "HashiCorp Vault / OpenBao KV (token, AppRole, JWT or Kubernetes auth)",
        create,
    )
    .timeout_secs(20)
}
