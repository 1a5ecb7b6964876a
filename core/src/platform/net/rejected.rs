//! Diagnosis of a certificate that failed verification: its issuer and the name it was for.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::text::one_line;

/// A certificate that failed verification, with what it said about itself.
#[derive(Debug)]
pub struct Rejected {
    /// Why it was refused.
    pub cause: CertificateError,
    /// Its issuer (`CN=Acme Proxy CA, O=Acme`), if it could be read.
    pub issuer: Option<String>,
    /// The name the client asked for.
    pub server: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match &self.cause {
            CertificateError::UnknownIssuer => {
                "is not signed by a trusted certificate authority".to_owned()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "is not valid yet (check the clock)".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("is not valid for the name {}", self.server)
            }
            CertificateError::Revoked => "has been revoked".to_owned(),
            other => format!("was refused ({})", one_line(&format!("{other:?}"), 120)),
        };
        write!(f, "the certificate presented for {}", self.server)?;
        if let Some(issuer) = &self.issuer {
            write!(f, " (issued by `{issuer}`)")?;
        }
        write!(f, " {why}")
    }
}

impl std::error::Error for Rejected {}

impl Rejected {
    /// Whether trusting another certificate authority could fix it.
    pub fn untrusted_issuer(&self) -> bool {
        matches!(
            self.cause,
            CertificateError::UnknownIssuer | CertificateError::BadSignature
        )
    }
}

/// The issuer of a DER certificate (`CN=Acme Proxy CA, O=Acme`), if it can be read.
fn issuer_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let issuer = cert.issuer().to_string();
    (!issuer.is_empty()).then(|| one_line(&issuer, 200))
}

/// Verifies with the inner verifier; a refused certificate's error carries its issuer.
#[derive(Debug)]
pub(super) struct NoteIssuer(pub(super) Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for NoteIssuer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(cause) => {
                    let issuer = issuer_of(end_entity);
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                        Arc::new(Rejected {
                            cause,
                            issuer,
                            server: one_line(&server_name.to_str(), 200),
                        }),
                    )))
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
