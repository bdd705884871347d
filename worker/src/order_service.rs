//! Order service: `POST /transactions` validates a transaction, produces it to Kafka and
//! answers 2xx only once Kafka acknowledged it. Keeps recent orders and counters in Redis.
//! A refusal is a 400 naming the field, counted by it in `kapture_requests_rejected_total`.
//! It creates no topic: it is ready once the topic Job's `transactions` exists.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use redis::aio::MultiplexedConnection;
use serde_json::json;
use tokio::sync::RwLock;

use kapture::component::Component;

use super::cli::OrderServiceArgs;
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::names::Names;
use super::redis_conn;
use super::shutdown::Shutdown;
use super::transaction::Transaction;
use super::validation::parse_transaction;

/// How many recent orders the Redis list keeps.
const RECENT_ORDERS: isize = 100;
/// Longest wait for Kafka's acknowledgement before answering 503.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(15);
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Kafka counts as down only after this many failed checks in a row: a broker that answers
/// metadata slowly for a few seconds (a rebalance, a pause) still acknowledges produces within
/// `PRODUCE_TIMEOUT`, and one slow answer must not turn every request into a 503.
const DOWN_AFTER_FAILED_CHECKS: u32 = 3;

struct App {
    producer: FutureProducer,
    names: Names,
    metrics: Arc<Metrics>,
    redis_client: redis::Client,
    redis: RwLock<Option<MultiplexedConnection>>,
    kafka_up: AtomicBool,
}

pub async fn run(args: OrderServiceArgs, shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::OrderService);
    let names = args.kafka.names(&args.redis.redis_prefix);
    let app = Arc::new(App {
        producer: kafka_config::producer(&args.kafka.kafka_bootstrap)?,
        names,
        metrics: metrics.clone(),
        redis_client: redis_conn::client(&args.redis.redis_url)?,
        redis: RwLock::new(None),
        kafka_up: AtomicBool::new(false),
    });
    metrics::serve(&args.metrics, metrics.clone(), shutdown.clone()).await?;
    tokio::spawn(health_loop(app.clone(), shutdown.clone()));

    let api = axum::Router::new()
        .route("/transactions", post(post_transaction))
        .layer(DefaultBodyLimit::max(args.max_body))
        .with_state(app.clone())
        .merge(metrics::routes(metrics));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the order service on {}", args.listen))?;
    tracing::info!(listen = %args.listen, topic = %app.names.source_topic(), "order service up");
    axum::serve(listener, api)
        .with_graceful_shutdown(shutdown.wait_owned())
        .await
        .context("serving HTTP")?;
    // Intake has stopped and every request in flight was answered; nothing is left to flush
    // but be explicit for messages whose requester went away.
    app.producer
        .flush(Timeout::After(Duration::from_secs(10)))
        .context("flushing the producer")?;
    tracing::info!("order service stopped");
    Ok(())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn post_transaction(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let m = &app.metrics;
    m.consumed.inc();
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            m.reject("too_large");
            return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        Err(e) => {
            m.reject("bad_body");
            return error(StatusCode::BAD_REQUEST, e.body_text());
        }
    };
    let txn = match parse_transaction(&body) {
        Ok(t) => t,
        Err(rejection) => {
            m.reject(rejection.field);
            return error(StatusCode::BAD_REQUEST, rejection.message);
        }
    };
    if !app.kafka_up.load(Ordering::Relaxed) {
        m.reject("unavailable");
        return error(StatusCode::SERVICE_UNAVAILABLE, "Kafka is unavailable");
    }
    let topic = app.names.source_topic();
    let started = Instant::now();
    let record = FutureRecord::to(&topic)
        .key(txn.id.as_str())
        .payload(&body[..]);
    match app
        .producer
        .send(record, Timeout::After(PRODUCE_TIMEOUT))
        .await
    {
        Ok(delivery) => {
            m.latency.observe(started.elapsed().as_secs_f64());
            m.produced.inc();
            tokio::spawn(record_in_redis(app.clone(), txn.clone()));
            let body =
                json!({ "id": txn.id, "partition": delivery.partition, "offset": delivery.offset });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Err((e, _)) => {
            m.fail("kafka");
            m.reject("unavailable");
            tracing::warn!(id = %txn.id, error = %e, "produce failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Kafka did not acknowledge: {e}"),
            )
        }
    }
}

/// Best effort: Redis holds a view for dashboards, Kafka is the system of record.
async fn record_in_redis(app: Arc<App>, txn: Transaction) {
    let Some(mut conn) = app.redis.read().await.clone() else {
        app.metrics.fail("redis");
        return;
    };
    let state_field = format!("state:{}", txn.store.location.state);
    let recent = json!({ "id": txn.id, "store": txn.store.id, "state": txn.store.location.state,
        "total_cents": txn.total_cents, "time": txn.time })
    .to_string();
    let result: redis::RedisResult<()> = redis::pipe()
        .atomic()
        .lpush(app.names.recent_orders(), recent)
        .ignore()
        .ltrim(app.names.recent_orders(), 0, RECENT_ORDERS - 1)
        .ignore()
        .hincr(app.names.order_counters(), "accepted", 1)
        .ignore()
        .hincr(app.names.order_counters(), state_field, 1)
        .ignore()
        .query_async(&mut conn)
        .await;
    if let Err(e) = result {
        app.metrics.fail("redis");
        tracing::warn!(error = %e, "recording the order in Redis failed");
    }
}

/// Keeps `kafka_up`, the Redis connection and readiness current.
async fn health_loop(app: Arc<App>, mut shutdown: Shutdown) {
    let mut health = KafkaHealth::default();
    loop {
        let producer = app.producer.clone();
        let topic = app.names.source_topic();
        let kafka = tokio::task::spawn_blocking(move || {
            kafka_config::topic_exists(producer.client(), &topic, Duration::from_secs(2))
        })
        .await
        .unwrap_or(Ok(false));
        let kafka = match kafka {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(topic = %app.names.source_topic(), "topic does not exist yet (the topic Job creates it)");
                false
            }
            Err(e) => {
                tracing::debug!(error = %format!("{e:#}"), "Kafka metadata unavailable");
                false
            }
        };
        let kafka = health.record(kafka);
        app.kafka_up.store(kafka, Ordering::Relaxed);

        let redis_ok = redis_check(&app).await;
        app.metrics.set_ready(kafka && redis_ok);
        tokio::select! {
            _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Kafka's health from its recent checks: up after one passing check, down after
/// `DOWN_AFTER_FAILED_CHECKS` failing ones in a row (down until the first pass).
#[derive(Debug, Default)]
struct KafkaHealth {
    up: bool,
    failed_in_row: u32,
}

impl KafkaHealth {
    /// Takes one check's outcome and returns whether Kafka now counts as up.
    fn record(&mut self, passed: bool) -> bool {
        if passed {
            self.failed_in_row = 0;
            self.up = true;
        } else {
            self.failed_in_row = self.failed_in_row.saturating_add(1);
            if self.failed_in_row >= DOWN_AFTER_FAILED_CHECKS {
                self.up = false;
            }
        }
        self.up
    }
}

async fn redis_check(app: &App) -> bool {
    let current = app.redis.read().await.clone();
    if let Some(mut conn) = current {
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        if pong.is_ok() {
            return true;
        }
    }
    let connect = redis_conn::connect(&app.redis_client);
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(conn)) => {
            *app.redis.write().await = Some(conn);
            true
        }
        _ => {
            *app.redis.write().await = None;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(checks: &[bool]) -> Vec<bool> {
        let mut health = KafkaHealth::default();
        checks.iter().map(|&passed| health.record(passed)).collect()
    }

    #[test]
    fn kafka_is_down_until_its_first_passing_check() {
        assert_eq!(replay(&[false, false, true]), [false, false, true]);
    }

    #[test]
    fn fewer_failed_checks_in_a_row_than_the_threshold_keep_kafka_up() {
        let checks = [true, false, false, true, false, false, true];
        assert!(replay(&checks).iter().all(|&up| up));
    }

    #[test]
    fn the_threshold_of_failed_checks_in_a_row_takes_kafka_down_until_a_pass() {
        let mut checks = vec![true];
        checks.extend(std::iter::repeat_n(
            false,
            DOWN_AFTER_FAILED_CHECKS as usize,
        ));
        checks.push(false);
        checks.push(true);
        let ups = replay(&checks);
        let n = DOWN_AFTER_FAILED_CHECKS as usize;
        assert!(ups[..n].iter().all(|&up| up), "{ups:?}");
        assert_eq!(&ups[n..], [false, false, true]);
    }
}
