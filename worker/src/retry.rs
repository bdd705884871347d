//! The sinks' retry of a batch write. Their writes are idempotent, so an attempt that failed
//! for any reason (connection lost, timeout, failover) is repeated whole on a fresh connection;
//! only when that keeps failing does the sink give up and exit, its batch uncommitted.
use std::time::Duration;

use anyhow::Result;

use super::metrics::Metrics;

/// Attempts per batch before the sink gives up.
pub const ATTEMPTS: u32 = 5;

/// Runs `attempt` on `conn` up to [`ATTEMPTS`] times. After a failure it counts `reason` in
/// `kapture_messages_failed_total`, waits (1 s, 2 s, ... : the server may be restarting) and
/// replaces `conn` with a fresh one from `reconnect` (keeping the old one if that fails too).
pub async fn retrying<C, T>(
    conn: &mut C,
    metrics: &Metrics,
    reason: &str,
    what: &str,
    mut attempt: impl AsyncFnMut(&mut C) -> Result<T>,
    mut reconnect: impl AsyncFnMut() -> Result<C>,
) -> Result<T> {
    let mut n = 1;
    loop {
        match attempt(conn).await {
            Ok(t) => return Ok(t),
            Err(e) if n < ATTEMPTS => {
                metrics.fail(reason);
                tracing::warn!(error = %format!("{e:#}"), attempt = n, "{what} failed; retrying");
                tokio::time::sleep(Duration::from_secs(n.into())).await;
                match reconnect().await {
                    Ok(fresh) => *conn = fresh,
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "reconnecting failed"),
                }
                n += 1;
            }
            Err(e) => return Err(e.context(format!("{what}: giving up after {ATTEMPTS} attempts"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kapture::component::Component;

    #[tokio::test(start_paused = true)]
    async fn a_failed_attempt_is_retried_on_a_fresh_connection() {
        let metrics = Metrics::new(Component::SinkMongo);
        let mut conn = 0u32;
        let mut fresh = 0;
        let out = retrying(
            &mut conn,
            &metrics,
            "mongo",
            "batch write",
            async |c: &mut u32| {
                if *c < 2 {
                    anyhow::bail!("connection {c} lost")
                }
                Ok(*c * 10)
            },
            async || {
                fresh += 1;
                Ok(fresh)
            },
        )
        .await
        .unwrap();
        assert_eq!((out, conn), (20, 2));
        assert!(metrics
            .encode()
            .contains("kapture_messages_failed_total{role=\"sink-mongo\",reason=\"mongo\"} 2"));
    }

    #[tokio::test(start_paused = true)]
    async fn it_gives_up_after_the_last_attempt() {
        let metrics = Metrics::new(Component::SinkRedis);
        let mut tries = 0;
        let err = retrying(
            &mut (),
            &metrics,
            "redis",
            "aggregate script",
            async |_: &mut ()| -> Result<()> {
                tries += 1;
                anyhow::bail!("down")
            },
            async || Ok(()),
        )
        .await
        .unwrap_err();
        assert_eq!(tries, ATTEMPTS);
        assert_eq!(
            format!("{err:#}"),
            "aggregate script: giving up after 5 attempts: down"
        );
    }
}
