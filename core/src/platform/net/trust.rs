//! What TLS trusts: the system store, plus (or, with `ca_cert_only`, instead of) `ca_cert`,
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`, each read with a size cap.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::rejected::NoteIssuer;
use super::{NetSettings, ReadVar};
use crate::env;
use crate::error::{Error, Result};
use crate::text::one_line;

/// Largest CA file read (system bundles are about 200 KiB).
const CA_FILE_CAP: u64 = 8 << 20;
/// Most files read from one `SSL_CERT_DIR` folder.
const CA_DIR_FILES: usize = 10_000;

/// One source of extra certificate authorities.
#[derive(Debug, Clone)]
pub struct CaSource {
    /// `ca_cert /etc/corp-ca.pem (from ~/.cybedefend/config.yaml)`, `SSL_CERT_FILE=/x.pem`.
    pub label: String,
    certs: Vec<CertificateDer<'static>>,
}

impl CaSource {
    /// How many certificates it holds.
    pub fn count(&self) -> usize {
        self.certs.len()
    }
}

/// What TLS trusts.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Extra CA files, in the order read.
    pub extra: Vec<CaSource>,
    /// Trust the extra files alone (`ca_cert_only`), not the system store.
    pub only: Option<String>,
    /// Certificates of the system store read by hand: when `SSL_CERT_FILE`/`SSL_CERT_DIR` are
    /// set, the system verifier reads them *instead of* the system store, which is therefore
    /// added back here.
    system_again: Vec<CertificateDer<'static>>,
    /// Verify with these roots alone (see `system_again`): the system verifier would read the
    /// variables again, without this module's size limits.
    own_roots: bool,
}

/// Known system bundle files (Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE, older RHEL, the
/// BSDs and macOS' OpenSSL).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
    "/etc/ssl/cert.pem",
];

/// Reads a PEM file of certificates; `label` names it in errors (`ca_cert /x (from …)`).
fn read_pem(path: &Path, label: &str, fix: &str) -> Result<Vec<CertificateDer<'static>>> {
    use crate::fsutil::{ReadError, read_capped};
    // Capped while reading (a /proc file says it is empty), opened without blocking (a FIFO).
    let bytes = read_capped(path, CA_FILE_CAP, true).map_err(|e| {
        let why = match e {
            ReadError::NotFound => "no such file".to_owned(),
            ReadError::NotRegular(kind) => format!("it is a {kind}, not a regular file"),
            ReadError::TooLarge(_) => format!(
                "it is larger than {} MiB, far more than a CA bundle",
                CA_FILE_CAP >> 20
            ),
            ReadError::Symlink => "it is a symbolic link".to_owned(),
            ReadError::Refused(why) => one_line(&why, 300),
            ReadError::Io(e) => one_line(&e.to_string(), 120),
        };
        Error::usage(format!("cannot read the CA file of {label}: {why}")).with_hint(fix.to_owned())
    })?;
    parse_pem(&bytes, label, fix)
}

fn parse_pem(bytes: &[u8], label: &str, fix: &str) -> Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(bytes).enumerate() {
        let cert = item.map_err(|e| {
            Error::usage(format!(
                "the CA file of {label} is not valid PEM (certificate {}): {}",
                i + 1,
                one_line(&e.to_string(), 120)
            ))
            .with_hint(fix.to_owned())
        })?;
        // The verifier takes only certificates that can be trust anchors: check each here, so
        // the error names the file.
        let mut probe = rustls::RootCertStore::empty();
        probe.add(cert.clone()).map_err(|e| {
            Error::usage(format!(
                "certificate {} in the CA file of {label} cannot be used as a certificate authority: {}",
                i + 1,
                one_line(&e.to_string(), 120)
            ))
            .with_hint(fix.to_owned())
        })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "the CA file of {label} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ))
        .with_hint(format!(
            "{fix}; a DER file converts with `openssl x509 -inform der -in FILE -out FILE.pem`"
        )));
    }
    Ok(certs)
}

/// Most certificates taken from `SSL_CERT_DIR` folders (a system store has a few hundred).
const CA_DIR_CERTS: usize = 5_000;

/// What the `SSL_CERT_DIR` folders have used so far: certificates and files already taken,
/// and bytes read.
#[derive(Default)]
struct DirBudget {
    certs: std::collections::HashSet<Vec<u8>>,
    files: std::collections::HashSet<(u64, u64)>,
    bytes: u64,
}

/// Largest file read from an `SSL_CERT_DIR` folder (one CA is 2 KiB, a bundle 200 KiB).
const CA_DIR_FILE_CAP: u64 = 2 << 20;
/// Most bytes read from all `SSL_CERT_DIR` folders together.
const CA_DIR_BYTES: u64 = 32 << 20;

fn read_pem_dir(
    dir: &Path,
    label: &str,
    fix: &str,
    budget: &mut DirBudget,
) -> Result<Vec<CertificateDer<'static>>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::usage(format!(
            "cannot read the CA folder of {label}: {}",
            one_line(&e.to_string(), 120)
        ))
        .with_hint(fix.to_owned())
    })?;
    let mut certs: Vec<CertificateDer<'static>> = Vec::new();
    for entry in entries.flatten().take(CA_DIR_FILES) {
        // Capped, non-blocking reads; a hashed CA folder holds other files too (CRLs,
        // READMEs): take what parses, skip what cannot be read.
        let path = entry.path();
        // Each file once (hashed folders hold links to the same file).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = std::fs::metadata(&path)
                && !budget.files.insert((m.dev(), m.ino()))
            {
                continue;
            }
        }
        let Ok(bytes) = crate::fsutil::read_capped(&path, CA_DIR_FILE_CAP, true) else {
            continue;
        };
        budget.bytes += bytes.len() as u64;
        if budget.bytes > CA_DIR_BYTES {
            return Err(Error::usage(format!(
                "the CA folders of SSL_CERT_DIR hold more than {} MiB of files; a trust store is far smaller",
                CA_DIR_BYTES >> 20
            ))
            .with_hint(fix.to_owned()));
        }
        for cert in CertificateDer::pem_slice_iter(&bytes).flatten() {
            if budget.certs.len() >= CA_DIR_CERTS {
                return Err(Error::usage(format!(
                    "the CA folders of SSL_CERT_DIR hold more than {CA_DIR_CERTS} certificates; a trust store has a few hundred"
                ))
                .with_hint(fix.to_owned()));
            }
            let mut probe = rustls::RootCertStore::empty();
            if probe.add(cert.clone()).is_ok() && budget.certs.insert(cert.as_ref().to_vec()) {
                certs.push(cert);
            }
        }
    }
    if certs.is_empty() {
        return Err(
            Error::usage(format!("the CA folder of {label} holds no PEM certificate"))
                .with_hint(fix.to_owned()),
        );
    }
    Ok(certs)
}

impl Trust {
    /// Reads the CA files: `ca_cert` (if `with_ca_cert`), then `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`.
    pub fn load(settings: &NetSettings, with_ca_cert: bool, lookup: ReadVar<'_>) -> Result<Self> {
        let mut trust = Self::default();
        if with_ca_cert && let Some(ca) = &settings.ca_cert {
            let label = format!(
                "ca_cert {} (from {})",
                crate::home::tilde(&ca.value),
                ca.origin
            );
            let fix = format!(
                "fix `ca_cert` in {}: it takes a PEM file of the certificate authorities to trust",
                ca.origin
            );
            let certs = read_pem(&ca.value, &label, &fix)?;
            trust.extra.push(CaSource { label, certs });
        }
        let mut conventional = false;
        // A relative file or folder would be read from whatever directory a command runs in:
        // a repository's PEM would become a trusted CA.
        let relative = |var: &str, value: &str| {
            Error::usage(format!(
                "{var}={} is not an absolute path: it would be read from whatever directory a command runs in (a repository's PEM would become a trusted CA)",
                one_line(value, 200)
            ))
            .with_hint(format!("give an absolute path: export {var}=\"$PWD/{}\"", one_line(value, 200)))
        };
        if let Some(file) = lookup(env::SSL_CERT_FILE)? {
            if Path::new(&file).is_relative() {
                return Err(relative(env::SSL_CERT_FILE, &file));
            }
            let label = format!("SSL_CERT_FILE={}", one_line(&file, 200));
            let fix = "fix or unset SSL_CERT_FILE: it takes a PEM file of certificate authorities";
            let certs = read_pem(Path::new(&file), &label, fix)?;
            trust.extra.push(CaSource { label, certs });
            conventional = true;
        }
        if let Some(dirs) = lookup(env::SSL_CERT_DIR)? {
            let fix = "fix or unset SSL_CERT_DIR: it takes folders of PEM files";
            let mut budget = DirBudget::default();
            let mut missing = Vec::new();
            for dir in std::env::split_paths(&dirs).filter(|p| !p.as_os_str().is_empty()) {
                if dir.is_relative() {
                    return Err(relative(env::SSL_CERT_DIR, &dir.to_string_lossy()));
                }
                // A folder that does not exist is skipped, as OpenSSL does.
                if !dir.exists() {
                    missing.push(crate::home::tilde(&dir));
                    continue;
                }
                let label = format!("SSL_CERT_DIR entry {}", crate::home::tilde(&dir));
                let certs = read_pem_dir(&dir, &label, fix, &mut budget)?;
                trust.extra.push(CaSource { label, certs });
                conventional = true;
            }
            if !conventional && !missing.is_empty() {
                return Err(Error::usage(format!(
                    "none of the folders of SSL_CERT_DIR exists ({})",
                    one_line(&missing.join(", "), 200)
                ))
                .with_hint(fix));
            }
        }
        if let Some(only) = settings.ca_cert_only.as_ref().filter(|o| o.value) {
            if trust.extra.is_empty() {
                return Err(Error::usage(format!(
                    "`ca_cert_only` (from {}) trusts the given CA files alone, but none is given",
                    only.origin
                ))
                .with_hint(
                    "set `ca_cert` (config) or CYBEDEFEND_CA_CERT, or drop `ca_cert_only`",
                ));
            }
            trust.only = Some(only.origin.clone());
        } else if conventional && cfg!(all(unix, not(target_vendor = "apple"))) {
            trust.own_roots = true;
            // The system verifier reads SSL_CERT_FILE/SSL_CERT_DIR in place of the system
            // store; add the store back, so they add to it as every other CA setting does.
            if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
                match read_pem(bundle, &crate::home::tilde(bundle), "") {
                    Ok(c) => trust.system_again = c,
                    Err(e) => tracing::debug!("tls: system bundle skipped: {e}"),
                }
            }
        }
        Ok(trust)
    }

    fn extra_certs(&self) -> impl Iterator<Item = CertificateDer<'static>> + '_ {
        self.extra.iter().flat_map(|s| s.certs.iter().cloned())
    }

    /// One line for `auth status` and logs: `the system store + ca_cert /x (2 certificates)`.
    pub fn describe(&self) -> String {
        let extra: Vec<String> = self
            .extra
            .iter()
            .map(|s| {
                format!(
                    "{} ({} certificate{})",
                    s.label,
                    s.count(),
                    plural(s.count())
                )
            })
            .collect();
        match (&self.only, extra.is_empty()) {
            (Some(origin), _) => format!("only {} (ca_cert_only from {origin})", extra.join(" + ")),
            (None, true) => "the system's trust store".to_owned(),
            (None, false) => format!("the system's trust store + {}", extra.join(" + ")),
        }
    }

    /// The CA settings in force, for a TLS error's hint.
    pub fn labels(&self) -> Vec<String> {
        self.extra.iter().map(|s| s.label.clone()).collect()
    }

    /// A rustls configuration trusting this (plus `more`, a provider's own CA).
    pub(super) fn tls_config(
        &self,
        more: &[CertificateDer<'static>],
    ) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let setup = |e: &dyn fmt::Display| {
            Error::failure(format!(
                "cannot set up TLS verification: {}",
                one_line(&e.to_string(), 200)
            ))
        };
        let extra: Vec<CertificateDer<'static>> = self
            .extra_certs()
            .chain(self.system_again.iter().cloned())
            .chain(more.iter().cloned())
            .collect();
        let inner: Arc<dyn ServerCertVerifier> = if self.only.is_some() || self.own_roots {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(extra);
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| setup(&e))?
        } else if extra.is_empty() {
            Arc::new(
                rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
                    .map_err(|e| setup(&e))?,
            )
        } else {
            Arc::new(
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    extra,
                    Arc::clone(&provider),
                )
                .map_err(|e| setup(&e))?,
            )
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoteIssuer(inner)))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::super::Setting;
    use super::super::tests::env_of;
    use super::*;

    #[test]
    fn conventional_ca_variables_add_to_the_system_store() {
        let dir = tempfile::tempdir().unwrap();
        // Any CA certificate will do: take the first of the system bundle.
        let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) else {
            panic!("no system CA bundle on this machine; install ca-certificates");
        };
        let all = read_pem(bundle, "system", "").unwrap();
        assert!(all.len() > 10);
        let one = dir.path().join("one.pem");
        let pem = std::fs::read_to_string(bundle).unwrap();
        let first = pem
            .split_inclusive("-----END CERTIFICATE-----")
            .next()
            .unwrap();
        std::fs::write(&one, first).unwrap();
        let path: &'static str = Box::leak(one.to_string_lossy().into_owned().into_boxed_str());
        let pairs: &'static [(&str, &str)] = Box::leak(Box::new([("SSL_CERT_FILE", path)]));
        let env = env_of(pairs);
        let t = Trust::load(&NetSettings::default(), true, &env).unwrap();
        assert_eq!(t.extra.len(), 1);
        assert_eq!(t.extra[0].count(), 1);
        assert_eq!(
            t.system_again.len(),
            all.len(),
            "the system store is added back"
        );
        assert!(
            t.describe()
                .starts_with("the system's trust store + SSL_CERT_FILE="),
            "{}",
            t.describe()
        );
        // ca_cert_only: the files alone
        let only = NetSettings {
            ca_cert_only: Some(Setting {
                value: true,
                origin: "CYBEDEFEND_CA_CERT_ONLY".into(),
            }),
            ..NetSettings::default()
        };
        let t = Trust::load(&only, true, &env).unwrap();
        assert!(t.system_again.is_empty());
        assert!(
            t.describe().starts_with("only SSL_CERT_FILE="),
            "{}",
            t.describe()
        );
        // ca_cert_only with nothing given
        let e = Trust::load(&only, true, &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("none is given"), "{e}");
    }
}
