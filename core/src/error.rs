//! The crate's error type: a kind that says what the caller does with the error, a one-line
//! message, an optional hint, and the causes it came from (shown with `--debug`).
//!
//! Callers decide by [`ErrorKind`] (through the `is_*` query methods), never by reading the
//! message. The chain moves on after [`ErrorKind::NotFound`] and [`ErrorKind::Unsupported`],
//! and stops on anything else; the CLI maps each kind to one exit code (its `Exit` type); the
//! plugin protocol maps its outcomes onto the same kinds.

use std::fmt;

/// What kind of failure an error is, and so what the caller does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing there: a provider has no credential, the API has no such object (HTTP 404).
    /// The credential chain moves on to the next provider. Exit 1 when it ends a command.
    NotFound,
    /// The operation is not offered (a provider that cannot store, a plugin that does not
    /// erase). The chain moves on; as the end of a command it is a usage error (exit 2).
    Unsupported,
    /// Bad usage or configuration, found before any work (exit 2).
    Usage,
    /// No credential, or the credential was rejected, or access was denied (exit 4).
    Auth,
    /// The server could not be reached, did not answer in time, or answered 5xx: nothing was
    /// decided about the credential or the request (exit 3). Retrying later may work.
    Network,
    /// The user interrupted the command (exit 130).
    Cancelled,
    /// Anything else that failed: a server answer that makes no sense, a file that cannot be
    /// written, a scan that failed (exit 1).
    Failed,
}

impl ErrorKind {
    /// The kind's name in JSON output and the plugin protocol (`not-found`, `unsupported`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Usage => "usage",
            ErrorKind::Auth => "auth",
            ErrorKind::Network => "network",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Failed => "failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error: its kind, a one-line message (no trailing period) and a hint that says what to do.
///
/// Messages never contain secrets: they are built from fingerprints, paths, provider ids and
/// server status codes. Text that a server or a helper provides is cut to one line and has its
/// control characters neutralised ([`crate::text::one_line`]) before it is put in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    /// The HTTP status of the answer this error is about, if any.
    status: Option<u16>,
    /// What the server said (a short, safe excerpt), if the error came from an answer.
    detail: Option<String>,
    /// The request was never sent (the connection could not be made): repeating it is safe
    /// even where repeating a sent one is not.
    unsent: bool,
    /// How long the server asked to wait before another try (`Retry-After`).
    retry_after: Option<std::time::Duration>,
    /// The errors this one came from, outermost first, each one line (`--debug` shows them).
    causes: Vec<String>,
}

impl std::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            status: None,
            detail: None,
            unsent: false,
            retry_after: None,
            causes: Vec::new(),
        }
    }

    /// [`ErrorKind::Failed`] (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }

    /// [`ErrorKind::Usage`] (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// [`ErrorKind::Auth`] (exit 4).
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// [`ErrorKind::Network`] (exit 3).
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Network, message)
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// [`ErrorKind::Cancelled`] (exit 130).
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }

    /// Adds (or replaces) the hint line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Puts `context` in front of the message: `context: message`.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The same error with another kind (a not-found that is a failure for this caller).
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Keeps `source` and what it came from (its `source()` chain) as this error's causes:
    /// the message says what failed in the user's words, the causes what the libraries said
    /// (`--debug` prints them). Each is cut to one line with control characters neutralised.
    #[must_use]
    pub fn with_source(mut self, source: &(dyn std::error::Error + 'static)) -> Self {
        let mut next = Some(source);
        while let Some(e) = next {
            if self.causes.len() == 8 {
                break;
            }
            let line = crate::text::one_line(&e.to_string(), 300);
            // libraries often repeat their inner error in their own message
            if self.causes.last() != Some(&line) {
                self.causes.push(line);
            }
            next = e.source();
        }
        self
    }

    /// The causes kept by [`Error::with_source`], outermost first.
    pub fn causes(&self) -> &[String] {
        &self.causes
    }

    /// Records the HTTP status of the answer this error is about.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Marks the request as never sent (a connection that could not be made).
    #[must_use]
    pub fn not_sent(mut self) -> Self {
        self.unsent = true;
        self
    }

    /// Whether the request was never sent.
    pub fn was_not_sent(&self) -> bool {
        self.unsent
    }

    /// Records the server's `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// The server's `Retry-After`, if it gave one.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }

    /// The HTTP status of the answer this error is about (403, 404, ...), if it came from one.
    pub fn http_status(&self) -> Option<u16> {
        self.status
    }

    /// Records what the server said (already a short, neutralised excerpt).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// What the server said, if the error came from an answer.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// What the caller does with this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, one line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Nothing there: the chain moves on.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The operation is not offered.
    pub fn is_unsupported(&self) -> bool {
        self.kind == ErrorKind::Unsupported
    }

    /// Bad usage or configuration.
    pub fn is_usage(&self) -> bool {
        self.kind == ErrorKind::Usage
    }

    /// No credential, rejected, or access denied.
    pub fn is_auth(&self) -> bool {
        self.kind == ErrorKind::Auth
    }

    /// The server could not be reached or failed: nothing was decided.
    pub fn is_network(&self) -> bool {
        self.kind == ErrorKind::Network
    }

    /// Interrupted by the user.
    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }

    /// Whether the credential chain moves on past this error (not found, unsupported).
    pub fn chain_moves_on(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound | ErrorKind::Unsupported)
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_causes_are_kept_one_line_each() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused\x1b[2J");
        let e = Error::network("cannot reach the platform").with_source(&inner);
        assert_eq!(e.causes().len(), 1);
        assert!(!e.causes()[0].contains('\x1b'), "{:?}", e.causes());
        assert_eq!(e.message(), "cannot reach the platform");
    }

    #[test]
    fn context_prefixes_and_keeps_kind_and_hint() {
        let e = Error::network("timed out")
            .with_hint("retry")
            .context("token exchange");
        assert_eq!(e.message(), "token exchange: timed out");
        assert_eq!(e.hint(), Some("retry"));
        assert!(e.is_network() && !e.chain_moves_on());
        assert!(Error::not_found("x").chain_moves_on());
        assert!(Error::unsupported("x").chain_moves_on());
    }
}
