//! Work a signal must not cut in half: once a session refresh is sent, the server has rotated
//! the refresh token, and only saving the answer keeps the user logged in. While a [`Shield`]
//! is held, the CLI's signal handling keeps the command running until it is dropped (bounded by
//! the request's own time limit), and stops the command after that.
//!
//! A SIGKILL cannot be answered: killed between the server's answer and the save (a few
//! milliseconds), the session is lost and `cybedefend login` is needed again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static LIMIT_MS: AtomicUsize = AtomicUsize::new(0);

/// Held while work that must not be cut runs; dropping it ends the shield.
#[derive(Debug)]
pub struct Shield(());

/// Starts a shield for work that ends within `limit`.
pub fn enter(limit: Duration) -> Shield {
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let ms = usize::try_from(limit.as_millis()).unwrap_or(usize::MAX);
    LIMIT_MS.fetch_max(ms, Ordering::SeqCst);
    Shield(())
}

impl Drop for Shield {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether shielded work is running.
pub fn active() -> bool {
    ACTIVE.load(Ordering::SeqCst) > 0
}

/// Waits until no shielded work runs, at most the longest limit given (and a second more).
pub async fn released() {
    let limit =
        Duration::from_millis(LIMIT_MS.load(Ordering::SeqCst) as u64) + Duration::from_secs(1);
    let start = tokio::time::Instant::now();
    while active() && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
