//! [`shutdown_on_signal`]: a cancellation token that SIGTERM or SIGINT (Ctrl-C) cancels, for graceful shutdown
//! of a standalone backend process.

use tokio_util::sync::CancellationToken;

use crate::error::ServeError;

/// Installs SIGTERM and SIGINT handlers (Ctrl-C only, on platforms without Unix signals) and returns a token
/// the first such signal cancels. Call it inside the tokio runtime, before binding, so a signal that arrives
/// during start-up is not lost. Cancelling the token yourself also ends the watcher.
pub fn shutdown_on_signal() -> Result<CancellationToken, ServeError> {
    let token = CancellationToken::new();
    let watcher = token.clone();
    let signals = Signals::install()?;
    tokio::spawn(async move {
        tokio::select! {
            name = signals.next() => {
                tracing::info!(signal = name, "shutting down: finishing requests in flight");
                watcher.cancel();
            }
            () = watcher.cancelled() => {}
        }
    });
    Ok(token)
}

#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Result<Self, ServeError> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &'static str| {
            signal(kind).map_err(|source| ServeError::Signal {
                signal: name,
                source,
            })
        };
        Ok(Self {
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// The name of the first signal received.
    async fn next(mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Result<Self, ServeError> {
        Ok(Self)
    }

    async fn next(self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            // Without a handler the process cannot be stopped gracefully; never resolve, so it keeps serving.
            Err(_) => std::future::pending().await,
        }
    }
}
