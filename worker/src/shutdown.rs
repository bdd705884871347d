//! Graceful shutdown on SIGTERM / SIGINT: roles stop taking work, then flush and commit.
use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A shutdown signal fired by the returned sender (for roles that stop by themselves).
    pub fn manual() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self { rx })
    }

    /// Fires on the first SIGTERM or SIGINT.
    pub fn on_signals() -> Self {
        let (tx, this) = Self::manual();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
            }
            let _ = tx.send(true);
            // Keep the sender alive so receivers see `true`, not a closed channel.
            std::future::pending::<()>().await;
        });
        this
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown was requested (immediately if it already was).
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|v| *v).await;
    }

    pub async fn wait_owned(mut self) {
        self.wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_once_sent() {
        let (tx, mut s) = Shutdown::manual();
        assert!(!s.is_triggered());
        tx.send(true).unwrap();
        s.wait().await;
        assert!(s.is_triggered());
    }
}
