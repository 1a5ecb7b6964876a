//! The platform client: regions and endpoints, HTTP with its safety rules, the auth flows
//! (PAT exchange with its cache, browser login and refresh), the one bearer path, and the API
//! with one module per resource.

mod api;
mod bearer;
pub mod compliance;
pub mod containers;
pub mod de;
mod endpoints;
pub mod exchange;
pub mod http;
pub mod net;
pub mod oauth;
pub mod overview;
pub mod policies;
pub mod projects;
pub mod reports;
pub mod results;
pub mod scan;
pub mod teams;
pub mod user;

pub use crate::config::net::check_url;
pub use crate::region::{Region, UnknownRegion};
pub use api::{
    ATTEMPTS, About, Answer, Api, Kind, MAX_BACKOFF, Method, Notice, Query, about, body_excerpt,
    check_id, deadline, parse, retry_after, seg,
};
pub use bearer::{Bearer, lasts};
pub use endpoints::Endpoints;
pub use exchange::{AccessToken, FileTokenStore, NoTokenStore, TokenStore, TokenStoreBackend};
pub use http::{DEFAULT_TIMEOUT, Http};
