//! One shutdown token for the whole server, in two stages: **draining** (stop taking API
//! calls, end open watches, let the calls in flight finish) and then **stopping** (the
//! callback server and every background task: relay, reminders, job worker, metrics).

use std::sync::Arc;

use tokio::sync::watch;

/// Cheap to clone; every clone is the same token.
#[derive(Debug, Clone)]
pub struct Shutdown {
    draining: Arc<watch::Sender<bool>>,
    stopping: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self {
            draining: Arc::new(watch::channel(false).0),
            stopping: Arc::new(watch::channel(false).0),
        }
    }

    /// Turns true when draining starts: what serves API calls finishes up.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Turns true when the background work must stop.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Completes once [`Shutdown::stopping`] turns true.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping();
        let _ = stopping.wait_for(|stop| *stop).await;
    }

    /// Completes once [`Shutdown::draining`] turns true.
    pub async fn drained(&self) {
        let mut draining = self.draining();
        let _ = draining.wait_for(|drain| *drain).await;
    }

    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Stops everything (draining too, if it had not started).
    pub fn stop(&self) {
        self.drain();
        self.stopping.send_replace(true);
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn stopping_drains_first_and_both_stay_set() {
        let shutdown = super::Shutdown::new();
        let (draining, stopping) = (shutdown.draining(), shutdown.stopping());
        shutdown.drain();
        assert!(*draining.borrow() && !*stopping.borrow());
        shutdown.stop();
        shutdown.drained().await;
        shutdown.stopped().await;
        assert!(*shutdown.draining().borrow() && *shutdown.stopping().borrow());
    }
}
