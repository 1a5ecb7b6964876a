//! The credential engine: what a credential is, how secrets are kept out of output, the
//! provider trait and its registry, the chain that consults providers in order, and the
//! stored login (`credentials.json`) in the cybedefend home folder.

mod chain;
mod credential;
mod provider;
pub mod store;

pub use chain::{Chain, Outcome, Resolution, TraceEntry, Winner};
pub use credential::{Credential, OAuthSession};
pub use provider::{
    CredentialProvider, Erased, Found, Lookup, Notices, PluginSettings, ProviderFactory,
    ProviderInit, ResolveContext, default_chain, factories, factory,
};
