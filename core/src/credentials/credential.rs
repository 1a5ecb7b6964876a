//! What a provider finds: a PAT or an OAuth session.

use time::OffsetDateTime;

use crate::Secret;

/// A credential for the platform.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// A Personal Access Token, exchanged for short-lived access tokens (RFC 8693).
    Pat(Secret),
    /// A browser-login session.
    OAuth(OAuthSession),
}

/// An OAuth session: access token, refresh token, expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthSession {
    /// Bearer token for the API.
    pub access_token: Secret,
    /// Token to get a new access token; absent when the server gave none.
    pub refresh_token: Option<Secret>,
    /// When the access token expires; `None` when unknown (treated as expired).
    pub expires_at: Option<OffsetDateTime>,
}

impl Credential {
    /// `pat` or `oauth`, as in credentials.json and `auth status`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Credential::Pat(_) => "pat",
            Credential::OAuth(_) => "oauth",
        }
    }

    /// A printable fingerprint: the PAT's, or the session's refresh token's (which outlives
    /// its access tokens), else its access token's.
    pub fn fingerprint(&self) -> String {
        match self {
            Credential::Pat(pat) => pat.fingerprint(),
            Credential::OAuth(s) => s
                .refresh_token
                .as_ref()
                .unwrap_or(&s.access_token)
                .fingerprint(),
        }
    }
}
