//! Redis sink: per-state and per-store aggregates. One Lua script per batch adds each id to
//! a processed set and increments the aggregates only if the id was new, so redelivered
//! messages are not counted twice.
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::message::{Message, OwnedMessage};
use redis::aio::MultiplexedConnection;
use serde::Deserialize;

use kapture::component::Component;

use super::cli::SinkRedisArgs;
use super::consume::{commit_or_warn, next_batch};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::names::Names;
use super::redis_conn;
use super::shutdown::Shutdown;

/// Attempts per batch before the sink gives up (and exits without committing).
const ATTEMPTS: u32 = 5;

/// KEYS: processed set, state counts, store counts, store revenue.
/// ARGV: groups of (id, state, store id, total cents). Returns how many ids were new.
pub const AGGREGATE_SCRIPT: &str = r"
local new = 0
for i = 1, #ARGV, 4 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    redis.call('HINCRBY', KEYS[3], ARGV[i + 2], 1)
    redis.call('HINCRBY', KEYS[4], ARGV[i + 2], ARGV[i + 3])
    new = new + 1
  end
end
return new
";

#[derive(Deserialize)]
struct Agg {
    id: String,
    store: AggStore,
    total_cents: u64,
}
#[derive(Deserialize)]
struct AggStore {
    id: u64,
    location: AggLocation,
}
#[derive(Deserialize)]
struct AggLocation {
    state: String,
}

/// Script arguments for one message.
pub fn script_args(payload: Option<&[u8]>) -> Result<[String; 4], String> {
    let a: Agg = serde_json::from_slice(payload.ok_or("empty message")?)
        .map_err(|e| format!("not a transaction: {e}"))?;
    if a.id.is_empty() {
        return Err("empty id".into());
    }
    Ok([
        a.id,
        a.store.location.state.to_ascii_uppercase(),
        a.store.id.to_string(),
        a.total_cents.to_string(),
    ])
}

pub fn script_keys(names: &Names) -> [String; 4] {
    [
        names.processed_set(),
        names.agg_state_count(),
        names.agg_store_count(),
        names.agg_store_revenue(),
    ]
}

pub async fn run(args: SinkRedisArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::SinkRedis);
    metrics::serve(
        args.metrics.metrics_listen,
        metrics.clone(),
        shutdown.clone(),
    )
    .await?;
    let names = args.kafka.names(&args.redis.redis_prefix);
    let client = redis_conn::client(&args.redis.redis_url)?;
    let mut conn = redis_conn::connect(&client).await?;
    let script = redis::Script::new(AGGREGATE_SCRIPT);
    let keys = script_keys(&names);

    let (consumer, group) = kafka_config::subscribed_consumer(
        &args.kafka.kafka_bootstrap,
        &names,
        &args.consumer,
        "kapture-sink-redis",
        &names.state_topic_pattern(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, pattern = %names.state_topic_pattern(), "redis sink up");

    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let argv = argv(&batch, &metrics);
        if !argv.is_empty() {
            let started = Instant::now();
            let new = aggregate(&client, &mut conn, &script, &keys, &argv, &metrics).await?;
            metrics.latency.observe(started.elapsed().as_secs_f64());
            metrics.produced.inc_by(new);
        }
        commit_or_warn(&consumer, &batch, &metrics);
    }
    tracing::info!("redis sink stopped");
    Ok(())
}

/// Runs the script, retrying (it is idempotent) on a fresh connection after an error.
async fn aggregate(
    client: &redis::Client,
    conn: &mut MultiplexedConnection,
    script: &redis::Script,
    keys: &[String],
    argv: &[String],
    metrics: &Metrics,
) -> Result<u64> {
    let mut attempt = 1;
    loop {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for a in argv {
            invocation.arg(a);
        }
        match invocation.invoke_async(conn).await {
            Ok(new) => return Ok(new),
            Err(e) if attempt < ATTEMPTS => {
                metrics.fail("redis");
                tracing::warn!(error = %e, attempt, "aggregate script failed; retrying");
                tokio::time::sleep(Duration::from_secs(attempt.into())).await;
                if let Ok(fresh) = redis_conn::connect(client).await {
                    *conn = fresh;
                }
                attempt += 1;
            }
            Err(e) => return Err(e).context("running the aggregate script"),
        }
    }
}

fn argv(batch: &[OwnedMessage], metrics: &Metrics) -> Vec<String> {
    let mut out = Vec::with_capacity(batch.len() * 4);
    for m in batch {
        match script_args(m.payload()) {
            Ok(args) => out.extend(args),
            Err(reason) => {
                metrics.fail("invalid");
                tracing::warn!(topic = m.topic(), offset = m.offset(), %reason, "skipping message");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_id_state_store_cents() {
        let p = br#"{"id":"t9","store":{"id":12,"location":{"state":"tx"}},"total_cents":250}"#;
        assert_eq!(
            script_args(Some(p)).unwrap(),
            ["t9".to_string(), "TX".into(), "12".into(), "250".into()]
        );
    }

    #[test]
    fn bad_payloads_are_refused() {
        assert!(script_args(None).is_err());
        assert!(script_args(Some(b"[]")).is_err());
        assert!(script_args(Some(
            br#"{"id":"","store":{"id":1,"location":{"state":"TX"}},"total_cents":1}"#
        ))
        .is_err());
    }

    #[test]
    fn keys_use_the_prefix() {
        let k = script_keys(&Names::new("", "p:"));
        assert_eq!(k[0], "p:sink:processed");
        assert_eq!(k[1], "p:agg:state:count");
    }
}
