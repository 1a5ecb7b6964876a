//! The platform's URLs for this command: from the region, or explicit overrides.

use crate::config::LoadedConfig;
use crate::config::net::check_url;
use crate::error::Result;
use crate::region::Region;

/// Endpoints resolved from region and overrides, each with its origin.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Effective region.
    pub region: Region,
    /// Where the region came from (`--region`, a file, `credentials.json`, `default`).
    pub region_origin: String,
    /// API base URL (no trailing slash).
    pub api_url: String,
    /// Origin of `api_url`.
    pub api_url_origin: String,
    /// Auth server base URL (no trailing slash).
    pub auth_endpoint: String,
    /// Origin of `auth_endpoint`.
    pub auth_endpoint_origin: String,
    /// Token audience (`resource`): the API URL.
    pub resource: String,
    /// Web application base.
    pub app_url: String,
}

impl Endpoints {
    /// A region's own endpoints, with no override.
    pub fn of_region(region: Region) -> Self {
        let origin = format!("region `{region}`");
        Self {
            region,
            region_origin: "default".into(),
            api_url: region.api_url().into(),
            api_url_origin: origin.clone(),
            auth_endpoint: region.auth_endpoint().into(),
            auth_endpoint_origin: origin,
            resource: region.api_url().into(),
            app_url: region.app_url().into(),
        }
    }

    /// Region: `--region`, then `CYBEDEFEND_REGION`, then config `region`, then the region
    /// stored at login, then `us`. Explicit `api_url` / `auth_endpoint` override the region's
    /// URLs. Plain `http://` is accepted only for loopback hosts.
    pub fn resolve(config: &LoadedConfig, stored_region: Option<Region>) -> Result<Self> {
        let (region, region_origin) = match config.settings.region {
            Some(r) => (r, config.origin("region").unwrap_or_default()),
            None => match stored_region {
                Some(r) => (r, "credentials.json (region stored at login)".to_owned()),
                None => (Region::Us, "default".to_owned()),
            },
        };
        let pick =
            |key: &str, value: &Option<String>, fallback: &str| -> Result<(String, String)> {
                match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    Some(v) => {
                        let origin = config.origin(key).unwrap_or_default();
                        check_url(key, v, &origin)?;
                        Ok((v.trim_end_matches('/').to_owned(), origin))
                    }
                    None => Ok((fallback.to_owned(), format!("region `{region}`"))),
                }
            };
        let (api_url, api_url_origin) =
            pick("api_url", &config.settings.api_url, region.api_url())?;
        let (auth_endpoint, auth_endpoint_origin) = pick(
            "auth_endpoint",
            &config.settings.auth_endpoint,
            region.auth_endpoint(),
        )?;
        let (app_url, _) = pick("app_url", &config.settings.app_url, region.app_url())?;
        Ok(Self {
            region,
            region_origin,
            resource: api_url.clone(),
            api_url,
            api_url_origin,
            auth_endpoint,
            auth_endpoint_origin,
            app_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token's audience is the API it is sent to: the region's (as the official CLI sends
    /// it), or the API URL that overrides it (README, "Coming from the official CLI").
    #[test]
    fn the_resource_is_the_api_url_in_effect() {
        for region in [Region::Us, Region::Eu] {
            let e = Endpoints::of_region(region);
            assert_eq!(e.resource, region.api_url());
        }
        let mut flags = crate::config::FlagValues::default();
        flags.set(crate::config::key("region").unwrap(), "eu");
        flags.set(
            crate::config::key("api_url").unwrap(),
            "https://api.staging.example/",
        );
        let dir = tempfile::tempdir().unwrap();
        let mut sources = crate::config::ConfigSources::only(dir.path().join("none.yaml"));
        sources.explicit = None;
        let config = LoadedConfig::load(&sources, &flags).unwrap();
        let e = Endpoints::resolve(&config, None).unwrap();
        assert_eq!(e.resource, "https://api.staging.example");
        assert_eq!(e.auth_endpoint, Region::Eu.auth_endpoint());
    }
}
