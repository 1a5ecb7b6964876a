//! The platform client: regions and endpoints, HTTP with its safety rules, the auth flows
//! (PAT exchange with its cache, browser login and refresh), the one bearer path, and the API
//! with one module per resource.

mod api;
mod bearer;
pub mod de;
mod endpoints;
pub mod exchange;
pub mod http;
pub mod oauth;
pub mod policies;
mod region;
pub mod results;
pub mod scan;

pub use api::{
    ATTEMPTS, Api, MAX_BACKOFF, Method, Notice, Query, body_excerpt, parse, retry_after, seg,
};
pub use bearer::Bearer;
pub use endpoints::Endpoints;
pub use exchange::{AccessToken, FileTokenStore, NoTokenStore, TokenStore, TokenStoreBackend};
pub use http::{DEFAULT_TIMEOUT, Http, check_url};
pub use region::{Region, UnknownRegion};
