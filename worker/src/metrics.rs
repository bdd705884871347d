//! Prometheus metrics and the /metrics, /healthz, /readyz listener every role serves.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use kapture::component::Component;

use super::cli::MetricsArgs;
use super::shutdown::Shutdown;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: String,
}

/// The metrics of one role. Every role registers the same names; those that do not apply
/// stay at zero.
pub struct Metrics {
    registry: Registry,
    pub produced: Counter,
    pub consumed: Counter,
    pub failed: Family<Reason, Counter>,
    pub rejected: Family<Reason, Counter>,
    pub dead_lettered: Family<Reason, Counter>,
    pub latency: Histogram,
    pub lag: Gauge,
    ready: AtomicBool,
    /// Milliseconds after `born` when the operation in progress began; 0 when idle.
    busy_since: AtomicU64,
    born: Instant,
    /// `/healthz` fails once one operation (a batch write, say) has run this long, in ms: a
    /// hung database or broker then shows as not live (`--liveness-timeout`).
    stuck_after: AtomicU64,
}

fn count(family: &Family<Reason, Counter>, reason: &str) {
    family
        .get_or_create(&Reason {
            reason: reason.to_owned(),
        })
        .inc();
}

/// Marks an operation in progress for the liveness check; idle again when dropped.
pub struct Busy<'a>(&'a Metrics);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy_since.store(0, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new(role: Component) -> Arc<Self> {
        let mut registry = Registry::with_prefix_and_labels(
            "kapture",
            [(
                std::borrow::Cow::Borrowed("role"),
                std::borrow::Cow::Borrowed(role.name()),
            )]
            .into_iter(),
        );
        let m = Self {
            produced: Counter::default(),
            consumed: Counter::default(),
            failed: Family::default(),
            rejected: Family::default(),
            dead_lettered: Family::default(),
            // 0.5 ms .. ~16 s
            latency: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            lag: Gauge::default(),
            ready: AtomicBool::new(false),
            busy_since: AtomicU64::new(0),
            born: Instant::now(),
            stuck_after: AtomicU64::new(u64::MAX),
            registry: Registry::default(),
        };
        registry.register(
            "messages_produced",
            "Messages acknowledged by Kafka (or by the order service, for loadgen)",
            m.produced.clone(),
        );
        registry.register(
            "messages_consumed",
            "Messages consumed from Kafka or received over HTTP",
            m.consumed.clone(),
        );
        registry.register(
            "messages_failed",
            "Messages that could not be processed, by reason",
            m.failed.clone(),
        );
        registry.register(
            "requests_rejected",
            "HTTP requests rejected, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "messages_dead_lettered",
            "Messages written to the dead-letter topic instead of being routed or stored, by reason",
            m.dead_lettered.clone(),
        );
        registry.register(
            "latency_seconds",
            "Per-operation latency: loadgen request, order-service produce, router and sink batch",
            m.latency.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages not yet consumed by this role's group (librdkafka statistics)",
            m.lag.clone(),
        );
        Arc::new(Self { registry, ..m })
    }

    pub fn fail(&self, reason: &str) {
        count(&self.failed, reason);
    }

    pub fn reject(&self, reason: &str) {
        count(&self.rejected, reason);
    }

    pub fn dead_letter(&self, reason: &str) {
        count(&self.dead_lettered, reason);
    }

    /// Starts an operation that liveness watches (`--liveness-timeout`).
    pub fn busy(&self) -> Busy<'_> {
        let since = self.born.elapsed().as_millis() as u64 + 1;
        self.busy_since.store(since, Ordering::Relaxed);
        Busy(self)
    }

    /// How long the operation in progress has run, if one is.
    pub fn busy_for(&self) -> Option<Duration> {
        match self.busy_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(
                self.born
                    .elapsed()
                    .saturating_sub(Duration::from_millis(since - 1)),
            ),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

/// `/metrics`, `/healthz` and `/readyz` routes (merged into the order service's API too).
pub fn routes(metrics: Arc<Metrics>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(live_handler))
        .route("/readyz", get(ready_handler))
        .with_state(metrics)
}

async fn metrics_handler(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}

async fn live_handler(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    match m.busy_for() {
        Some(d) if d.as_millis() >= u128::from(m.stuck_after.load(Ordering::Relaxed)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("stuck: one operation has run for {} s\n", d.as_secs()),
        ),
        _ => (StatusCode::OK, "ok\n".to_string()),
    }
}

async fn ready_handler(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    if m.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Binds the metrics listener and serves it until shutdown, in the background.
pub async fn serve(args: &MetricsArgs, metrics: Arc<Metrics>, shutdown: Shutdown) -> Result<()> {
    let addr = args.metrics_listen;
    metrics
        .stuck_after
        .store(args.liveness_timeout.as_millis() as u64, Ordering::Relaxed);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener on {addr}"))?;
    tokio::spawn(async move {
        let served = axum::serve(listener, routes(metrics))
            .with_graceful_shutdown(shutdown.wait_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_documented_names() {
        let m = Metrics::new(Component::Router);
        m.produced.inc();
        m.fail("invalid");
        m.lag.set(3);
        let text = m.encode();
        for needle in [
            "kapture_messages_produced_total{role=\"router\"} 1",
            "kapture_messages_failed_total{role=\"router\",reason=\"invalid\"} 1",
            "kapture_consumer_lag{role=\"router\"} 3",
            "kapture_latency_seconds_bucket",
            "# EOF",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }

    /// What the plugin's chaos impact reads of a scrape is what the roles expose: the names
    /// are pinned by the parser itself, not by a second copy of the strings.
    #[test]
    fn the_plugin_reads_every_series_the_roles_expose() {
        let m = Metrics::new(Component::SinkPostgres);
        for _ in 0..3 {
            m.produced.inc();
        }
        m.consumed.inc_by(5);
        m.fail("postgres");
        m.fail("invalid");
        m.reject("invalid");
        m.lag.set(7);
        let seen = kapture::impact::parse(&m.encode());
        assert_eq!(
            seen,
            kapture::impact::Values {
                produced: 3.0,
                consumed: 5.0,
                failed: 2.0,
                rejected: 1.0,
                lag: Some(7.0),
            }
        );
    }

    #[test]
    fn readiness_toggles() {
        let m = Metrics::new(Component::Loadgen);
        assert!(!m.is_ready());
        m.set_ready(true);
        assert!(m.is_ready());
    }
}
