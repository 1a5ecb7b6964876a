//! Machine policy: what the system file says about credential storage, provider types and
//! plugins. Every other layer can tighten it but not loosen it; a test override
//! (`CYBEDEFEND_SYSTEM_CONFIG`) is a second system layer, so it can tighten too, never loosen.

use figment::Figment;

/// The policy in effect.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Plaintext sources (credentials.json, `pat:` in a config file, a secret file others can
    /// read) are refused.
    pub require_secure_storage: bool,
    /// Provider types that may be used; empty means all.
    pub allowed_providers: Vec<String>,
    /// Where the policy came from, for messages.
    pub origin: String,
    /// `plugins.allow` of the system files: when set, only these plugins may load.
    pub plugin_allow: Option<Vec<String>>,
    /// The system file that set `plugins.allow`.
    pub plugin_allow_origin: String,
}

impl Policy {
    /// Whether providers of this type may be used.
    pub fn allows(&self, kind: &str) -> bool {
        self.allowed_providers.is_empty() || self.allowed_providers.iter().any(|t| t == kind)
    }

    /// [`Policy::allows`] as an error naming provider `id` and the policy, for commands that
    /// use one provider directly (`login --store`, `logout`).
    pub fn check_allowed(&self, id: &str, kind: &str) -> crate::Result<()> {
        if self.allows(kind) {
            return Ok(());
        }
        Err(crate::Error::usage(format!(
            "provider `{id}` (type `{kind}`) may not be used on this machine: the system policy ({}) allows only {}",
            self.origin,
            self.allowed_providers.join(", ")
        ))
        .with_hint("ask the administrator of this machine, or use an allowed provider"))
    }

    /// Adds what one system file says: each file can only tighten what the others said.
    pub(super) fn tighten_with(&mut self, file: &Figment, origin: &str) {
        if file
            .extract_inner::<bool>("credentials.require_secure_storage")
            .unwrap_or(false)
            && !self.require_secure_storage
        {
            self.require_secure_storage = true;
            self.origin = origin.to_owned();
        }
        if let Ok(list) = file.extract_inner::<Vec<String>>("plugins.allow") {
            self.plugin_allow_origin = origin.to_owned();
            self.plugin_allow = Some(match self.plugin_allow.take() {
                None => list,
                Some(before) => before.into_iter().filter(|p| list.contains(p)).collect(),
            });
        }
        if let Ok(list) = file.extract_inner::<Vec<String>>("credentials.allowed_providers")
            && !list.is_empty()
        {
            self.narrow(&list);
            if self.origin.is_empty() {
                self.origin = origin.to_owned();
            }
        }
    }

    /// Narrows the allowed types to those also in `list`; returns the types `list` asked for
    /// that the policy does not allow.
    pub(super) fn narrow(&mut self, list: &[String]) -> Vec<String> {
        if self.allowed_providers.is_empty() {
            self.allowed_providers = list.to_vec();
            return Vec::new();
        }
        let refused = list
            .iter()
            .filter(|t| !self.allowed_providers.contains(t))
            .cloned()
            .collect();
        self.allowed_providers.retain(|t| list.contains(t));
        refused
    }
}
