//! The crate's error type, classified once into the CLI's exit codes.

/// What kind of failure an error is; the CLI maps it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// The operation failed (network, server, file system): exit 1.
    Failure,
    /// Bad usage or configuration: exit 2.
    Usage,
    /// No credential, or the credential was rejected: exit 4.
    Auth,
}

impl ErrorCategory {
    /// The process exit code for this category.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCategory::Failure => 1,
            ErrorCategory::Usage => 2,
            ErrorCategory::Auth => 4,
        }
    }
}

/// An error with a one-line message, an optional hint that says what to do, and a category.
///
/// Messages never contain secrets: they are built from fingerprints, paths, provider ids and
/// server status codes only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What went wrong, one line, no trailing period.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Exit-code class.
    pub category: ErrorCategory,
}

impl Error {
    /// A failure (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Failure, message)
    }

    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Usage, message)
    }

    /// An authentication error (exit 4).
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Auth, message)
    }

    fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            category,
        }
    }

    /// Adds the hint line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
