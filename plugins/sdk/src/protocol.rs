//! The messages of protocol v1, the same for exec and native plugins.
//!
//! Every message is one JSON object (one line for exec plugins). Unknown fields are ignored in
//! both directions, and every enum has an `Unknown` variant for values a newer peer may send,
//! so either side can grow without breaking the other. See `plugins/PROTOCOL.md` for the
//! whole exchange with examples.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Protocol version 1.
pub const PROTOCOL_V1: u32 = 1;

/// Every protocol version this SDK speaks (a plugin's hello lists them).
pub const SUPPORTED_VERSIONS: &[u32] = &[PROTOCOL_V1];

/// The argument cybedefend starts an exec plugin with; without it the executable explains
/// itself and exits, so it can also be run by hand.
pub const PLUGIN_ARG: &str = "--cybedefend-plugin";

/// The reserved `config` key of the conformance run (`cybedefend plugin test`): when present,
/// the plugin answers what it asks for instead of doing real work. See
/// [`crate::respond`] and `plugins/PROTOCOL.md`.
pub const CONFORMANCE_KEY: &str = "cybedefend-conformance";

/// A secret string (a PAT). `Debug` never shows it; there is no `Display`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: for the wire, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// The first line an exec plugin writes: the protocol versions it speaks.
///
/// ```json
/// {"v":[1],"name":"corp-secrets","version":"1.2.0"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hello {
    /// Protocol versions spoken.
    pub v: Vec<u32>,
    /// The plugin's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The plugin's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Hello {
    /// The hello of a plugin speaking every version of this SDK.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            v: SUPPORTED_VERSIONS.to_vec(),
            name: Some(name.to_owned()),
            version: Some(version.to_owned()),
        }
    }
}

/// What the host asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Action {
    /// Look for a credential (every command that needs one).
    Get,
    /// Keep a credential (`cybedefend login --store NAME`).
    Store,
    /// Remove the kept credential (`cybedefend logout`).
    Erase,
    /// Only the hello line is wanted (`cybedefend plugin list`, `plugin verify`): do no work,
    /// answer `{"ok":{}}`.
    Hello,
    /// An action of a newer host: answer with an `unsupported` error.
    #[serde(other)]
    Unknown,
}

/// Where the request comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Context {
    /// The platform region (`us`, `eu`).
    #[serde(default)]
    pub region: String,
    /// The platform API URL.
    #[serde(default)]
    pub api_url: String,
    /// Whether a person can answer a prompt. When false (CI, no terminal), never wait for one.
    #[serde(default)]
    pub interactive: bool,
}

/// A credential in a request (`store`) or an answer (`get`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Credential {
    /// `pat` (the only kind of protocol v1).
    pub kind: String,
    /// The secret.
    pub secret: Secret,
}

impl Credential {
    /// A Personal Access Token.
    pub fn pat(secret: impl Into<String>) -> Self {
        Self {
            kind: "pat".into(),
            secret: Secret::new(secret),
        }
    }
}

/// One request of the host.
///
/// ```json
/// {"v":1,"action":"get","provider":"corp","config":{"role":"ci"},
///  "context":{"region":"eu","api_url":"https://api-eu.cybedefend.com","interactive":false}}
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Request {
    /// The protocol version of this request.
    pub v: u32,
    /// What to do.
    pub action: Action,
    /// The provider's name in the user's chain (`corp`).
    #[serde(default)]
    pub provider: String,
    /// The provider's `config` from the user's configuration, as is (`null` when none).
    #[serde(default)]
    pub config: serde_json::Value,
    /// Where the request comes from.
    #[serde(default)]
    pub context: Context,
    /// The credential to keep (`store` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
}

/// Shows the names of `config`'s keys, not their values (a config may hold a token).
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .config
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("Request")
            .field("v", &self.v)
            .field("action", &self.action)
            .field("provider", &self.provider)
            .field("config_keys", &keys)
            .field("context", &self.context)
            .field("credential", &self.credential)
            .finish()
    }
}

impl Request {
    /// A request of protocol v1 (hosts and tests build them this way).
    pub fn new(action: Action, provider: &str, config: serde_json::Value) -> Self {
        Self {
            v: PROTOCOL_V1,
            action,
            provider: provider.to_owned(),
            config,
            context: Context::default(),
            credential: None,
        }
    }

    /// With this context.
    #[must_use]
    pub fn with_context(mut self, region: &str, api_url: &str, interactive: bool) -> Self {
        self.context = Context {
            region: region.to_owned(),
            api_url: api_url.to_owned(),
            interactive,
        };
        self
    }

    /// With a credential to store.
    #[must_use]
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// A string option of `config` (`config.role`), if it is a string.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(serde_json::Value::as_str)
    }
}

/// What an error makes the host do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing here: the host moves on to the next provider of the chain.
    NotFound,
    /// This plugin does not do that (`store`, `erase`, an unknown action): the host moves on
    /// (`get`) or tells the user (`store`, `erase`).
    Unsupported,
    /// The provider's configuration is wrong: the chain stops, exit 2.
    Usage,
    /// The plugin's own credentials were refused (its secret store said no): exit 4.
    Auth,
    /// The plugin could not reach its secret store: exit 3 (retry later).
    Network,
    /// Anything else: the chain stops, exit 1 (unless `on_error: continue`).
    Failed,
    /// A kind of a newer plugin: treated as `failed`.
    #[serde(other)]
    Unknown,
}

impl ErrorKind {
    /// The kind's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Usage => "usage",
            ErrorKind::Auth => "auth",
            ErrorKind::Network => "network",
            ErrorKind::Failed => "failed",
            ErrorKind::Unknown => "unknown",
        }
    }

    /// Every kind a plugin may send.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::NotFound,
        ErrorKind::Unsupported,
        ErrorKind::Usage,
        ErrorKind::Auth,
        ErrorKind::Network,
        ErrorKind::Failed,
    ];
}

/// An error answer.
///
/// ```json
/// {"err":{"kind":"not-found","message":"no PAT for ci/pat"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Error {
    /// What the host does with it.
    pub kind: ErrorKind,
    /// One line for the user; never a secret.
    #[serde(default)]
    pub message: String,
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Nothing here: the chain moves on.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Not offered by this plugin.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// The configuration is wrong.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// The plugin's own credentials were refused.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// The secret store could not be reached.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Network, message)
    }

    /// Anything else.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

/// A successful answer. `get` fills `kind`, `secret` and `detail`; `erase` fills `removed`;
/// `store` fills nothing.
///
/// ```json
/// {"ok":{"kind":"pat","secret":"cdp_…","detail":"vault ci/pat"}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Answer {
    /// The kind of the credential found (`pat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The credential found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// Where it came from, for `cybedefend auth status` (no secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Whether `erase` removed something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
}

impl Answer {
    /// A credential found at `detail`.
    pub fn found(credential: Credential, detail: impl Into<String>) -> Self {
        Self {
            kind: Some(credential.kind),
            secret: Some(credential.secret),
            detail: Some(detail.into()),
            removed: None,
        }
    }

    /// What `store` answers.
    pub fn stored() -> Self {
        Self::default()
    }

    /// What `erase` answers.
    pub fn erased(removed: bool) -> Self {
        Self {
            removed: Some(removed),
            ..Self::default()
        }
    }
}

/// The one answer to a request: `{"ok": ...}` or `{"err": ...}`.
///
/// Other top-level keys are ignored (a newer plugin may add some); an
/// answer with both or neither of `ok` and `err` is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "WireResponse")]
pub enum Response {
    /// It worked.
    Ok(Answer),
    /// It did not.
    Err(Error),
}

/// What is read off the wire before it becomes a [`Response`].
#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    ok: Option<Answer>,
    #[serde(default)]
    err: Option<Error>,
}

impl TryFrom<WireResponse> for Response {
    type Error = &'static str;
    fn try_from(w: WireResponse) -> Result<Self, &'static str> {
        match (w.ok, w.err) {
            (Some(a), None) => Ok(Response::Ok(a)),
            (None, Some(e)) => Ok(Response::Err(e)),
            (Some(_), Some(_)) => Err("an answer has both \"ok\" and \"err\""),
            (None, None) => Err("an answer needs \"ok\" or \"err\""),
        }
    }
}

impl From<Result<Answer, Error>> for Response {
    fn from(r: Result<Answer, Error>) -> Self {
        match r {
            Ok(a) => Response::Ok(a),
            Err(e) => Response::Err(e),
        }
    }
}
