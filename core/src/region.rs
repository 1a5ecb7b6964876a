//! The platform's regions and their endpoints.

use std::fmt;
use std::str::FromStr;

/// A CybeDefend region. Parsing is case-insensitive (the official CLI compares `eu`
/// case-sensitively in one place and not in another; we do not copy that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Region {
    /// United States, the default.
    #[default]
    Us,
    /// Europe.
    Eu,
}

impl Region {
    /// Every region, in the order shown to users.
    pub const ALL: [Region; 2] = [Region::Us, Region::Eu];

    /// The region's name as written in config and credentials.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    /// Base URL of the platform API.
    pub fn api_url(self) -> &'static str {
        match self {
            Region::Us => "https://api-us.cybedefend.com",
            Region::Eu => "https://api-eu.cybedefend.com",
        }
    }

    /// Base URL of the auth server (OpenID Connect under `/oidc`).
    pub fn auth_endpoint(self) -> &'static str {
        match self {
            Region::Us => "https://auth-us.cybedefend.com",
            Region::Eu => "https://auth-eu.cybedefend.com",
        }
    }

    /// CLI client id used when `/client-apps` cannot be read.
    pub fn fallback_client_id(self) -> &'static str {
        match self {
            Region::Us => "7o6r9cvvi8um0kisvn7hm",
            Region::Eu => "fm90ay05zohu8fk2q45ms",
        }
    }

    /// Web application (links, PAT page).
    pub fn app_url(self) -> &'static str {
        match self {
            Region::Us => "https://us.cybedefend.com",
            Region::Eu => "https://eu.cybedefend.com",
        }
    }

    /// Where users create a Personal Access Token.
    pub fn pat_page(self) -> String {
        format!("{}/profile/personal-access-tokens", self.app_url())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown region name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region `{0}`: expected one of `us`, `eu`")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            _ => Err(UnknownRegion(crate::text::one_line(s, 40))),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // (the value is not repeated: a config file may hold anything there)
        s.parse()
            .map_err(|_| serde::de::Error::custom("unknown region: expected one of `us`, `eu`"))
    }
}

impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_lists_valid_regions() {
        assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
        let err = "mars".parse::<Region>().unwrap_err().to_string();
        assert!(err.contains("`us`") && err.contains("`eu`"), "{err}");
    }
}
