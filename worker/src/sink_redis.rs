//! Redis sink: per-state and per-store aggregates, exactly once per routed message.
//!
//! What makes redelivery harmless is bounded: per stream (a per-state topic partition, and
//! the `transactions` partition the router read the message from) the highest origin offset
//! applied, in one hash written by the same script as the aggregates. The router writes each
//! stream in origin order without gaps (see `router`), so a message at or below that offset
//! was applied before. Its size is per-state partitions x source partitions, however long the
//! run: not one entry per transaction. Messages without the router's headers (another
//! producer) fall back to their own partition and offset.
use std::time::Instant;

use anyhow::Result;
use rdkafka::message::{Message, OwnedMessage};
use redis::aio::MultiplexedConnection;

use kapture::component::Component;

use super::cli::SinkRedisArgs;
use super::consume::{commit_or_warn, next_batch};
use super::dead_letter::{self, split, DeadLetters, Letter};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::names::Names;
use super::redis_conn;
use super::retry::retrying;
use super::router::{ORIGIN_OFFSET, ORIGIN_PARTITION};
use super::shutdown::Shutdown;
use super::validation::{parse_transaction, Rejection};

/// A store's revenue may not pass this (an int64 in Redis; Lua compares as doubles, whose
/// error here is far below the margin to i64::MAX).
const REVENUE_LIMIT: f64 = 9.0e18;

/// KEYS: applied offsets, state counts, store counts, store revenue.
/// ARGV[1]: the revenue limit; then groups of (stream, offset, state, store id, cents).
/// Checks everything before it writes anything: returns {0, i, ...} (1-based indices of the
/// messages that would overflow a store's revenue; nothing written) or {1, applied count}.
pub const AGGREGATE_SCRIPT: &str = r"
local limit = tonumber(ARGV[1])
local last, last_text, revenue, apply, refused = {}, {}, {}, {}, {}
for i = 2, #ARGV, 5 do
  local stream, offset = ARGV[i], tonumber(ARGV[i + 1])
  if last[stream] == nil then
    last[stream] = tonumber(redis.call('HGET', KEYS[1], stream) or '-1')
  end
  if offset > last[stream] then
    local store, cents = ARGV[i + 3], tonumber(ARGV[i + 4])
    if revenue[store] == nil then
      revenue[store] = tonumber(redis.call('HGET', KEYS[4], store) or '0')
    end
    if revenue[store] + cents > limit then
      refused[#refused + 1] = (i + 3) / 5
    else
      revenue[store] = revenue[store] + cents
      last[stream], last_text[stream] = offset, ARGV[i + 1]
      apply[#apply + 1] = i
    end
  end
end
if #refused > 0 then
  table.insert(refused, 1, 0)
  return refused
end
for _, i in ipairs(apply) do
  redis.call('HINCRBY', KEYS[2], ARGV[i + 2], 1)
  redis.call('HINCRBY', KEYS[3], ARGV[i + 3], 1)
  redis.call('HINCRBY', KEYS[4], ARGV[i + 3], ARGV[i + 4])
end
for stream, text in pairs(last_text) do
  redis.call('HSET', KEYS[1], stream, text)
end
return {1, #apply}
";

/// What the script is given for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub stream: String,
    pub offset: i64,
    pub state: String,
    pub store: u64,
    pub cents: u64,
}

/// The stream and offset a message is deduplicated by: the router's origin headers, or the
/// message's own position.
pub fn stream_of(
    topic: &str,
    partition: i32,
    offset: i64,
    origin: Option<(&str, &str)>,
) -> (String, i64) {
    match origin.and_then(|(p, o)| Some((p.parse::<i32>().ok()?, o.parse::<i64>().ok()?))) {
        Some((origin_partition, origin_offset)) => (
            format!("{topic}/{partition}<{origin_partition}"),
            origin_offset,
        ),
        None => (format!("{topic}/{partition}"), offset),
    }
}

fn entry(m: &OwnedMessage) -> Result<Entry, Rejection> {
    let t = parse_transaction(m.payload().unwrap_or_default())?;
    let headers = m.headers();
    let origin = dead_letter::header(headers, ORIGIN_PARTITION)
        .zip(dead_letter::header(headers, ORIGIN_OFFSET));
    let (stream, offset) = stream_of(m.topic(), m.partition(), m.offset(), origin);
    Ok(Entry {
        stream,
        offset,
        state: t.store.location.state,
        store: t.store.id,
        cents: t.total_cents,
    })
}

pub fn script_keys(names: &Names) -> [String; 4] {
    [
        names.applied_offsets(),
        names.agg_state_count(),
        names.agg_store_count(),
        names.agg_store_revenue(),
    ]
}

/// What one run of the script did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Written; how many messages were new.
    Applied(u64),
    /// Nothing written: these entries (0-based) would overflow a store's revenue.
    Refused(Vec<usize>),
}

pub fn outcome(reply: &[i64]) -> Result<Outcome, String> {
    match reply {
        [1, n] => Ok(Outcome::Applied(*n as u64)),
        [0, refused @ ..] if !refused.is_empty() => Ok(Outcome::Refused(
            refused.iter().map(|i| *i as usize - 1).collect(),
        )),
        other => Err(format!(
            "unexpected reply from the aggregate script: {other:?}"
        )),
    }
}

/// Runs the script once over `entries`.
pub async fn run_script(
    conn: &mut MultiplexedConnection,
    script: &redis::Script,
    keys: &[String],
    entries: &[&Entry],
) -> Result<Outcome> {
    let mut invocation = script.prepare_invoke();
    for k in keys {
        invocation.key(k);
    }
    invocation.arg(REVENUE_LIMIT);
    for e in entries {
        invocation
            .arg(&e.stream)
            .arg(e.offset)
            .arg(&e.state)
            .arg(e.store)
            .arg(e.cents);
    }
    let reply: Vec<i64> = invocation.invoke_async(conn).await?;
    outcome(&reply).map_err(anyhow::Error::msg)
}

pub async fn run(args: SinkRedisArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::SinkRedis);
    metrics::serve(&args.metrics, metrics.clone(), shutdown.clone()).await?;
    let names = args.kafka.names(&args.redis.redis_prefix);
    let client = redis_conn::client(&args.redis.redis_url)?;
    let mut conn = redis_conn::connect(&client).await?;
    let script = redis::Script::new(AGGREGATE_SCRIPT);
    let keys = script_keys(&names);
    let dead_letters = DeadLetters::new(&args.kafka.kafka_bootstrap, &names, Component::SinkRedis)?;

    let (consumer, group) = kafka_config::subscribed_consumer(
        &args.kafka.kafka_bootstrap,
        &names,
        &args.consumer,
        Component::SinkRedis,
        &names.state_topic_pattern(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, pattern = %names.state_topic_pattern(), "redis sink up");

    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let _busy = metrics.busy();
        let started = Instant::now();
        let (mut entries, letters) = split(&batch, entry);
        dead_letters.send_all(&letters, &metrics).await?;
        // Each refusal dead-letters at least one entry, so this ends.
        while !entries.is_empty() {
            let view: Vec<&Entry> = entries.iter().map(|(_, e)| e).collect();
            match aggregate(&client, &mut conn, &script, &keys, &view, &metrics).await? {
                Outcome::Applied(new) => {
                    metrics.produced.inc_by(new);
                    break;
                }
                Outcome::Refused(refused) => {
                    let letters: Vec<Letter> = refused
                        .iter()
                        .filter_map(|&i| entries.get(i))
                        .map(|(m, e)| Letter {
                            message: m,
                            label: "store_revenue_overflow",
                            reason: format!(
                                "store {} revenue would pass {REVENUE_LIMIT:e} cents",
                                e.store
                            ),
                        })
                        .collect();
                    anyhow::ensure!(
                        letters.len() == refused.len(),
                        "the aggregate script refused entries {refused:?} of a batch of {}",
                        entries.len()
                    );
                    dead_letters.send_all(&letters, &metrics).await?;
                    let mut index = 0;
                    entries.retain(|_| {
                        index += 1;
                        !refused.contains(&(index - 1))
                    });
                }
            }
        }
        metrics.latency.observe(started.elapsed().as_secs_f64());
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
    entries: &[&Entry],
    metrics: &Metrics,
) -> Result<Outcome> {
    retrying(
        conn,
        metrics,
        "redis",
        "running the aggregate script",
        async |conn: &mut MultiplexedConnection| run_script(conn, script, keys, entries).await,
        async || redis_conn::connect(client).await,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_follow_the_origin_when_the_router_gave_one() {
        assert_eq!(
            stream_of("transactions.tx", 2, 77, Some(("5", "1234"))),
            ("transactions.tx/2<5".to_string(), 1234)
        );
        assert_eq!(
            stream_of("transactions.tx", 2, 77, None),
            ("transactions.tx/2".to_string(), 77)
        );
        // Unreadable headers: the message's own position.
        assert_eq!(
            stream_of("transactions.tx", 2, 77, Some(("x", "1"))),
            ("transactions.tx/2".to_string(), 77)
        );
    }

    #[test]
    fn script_replies_are_read() {
        assert_eq!(outcome(&[1, 7]), Ok(Outcome::Applied(7)));
        assert_eq!(outcome(&[0, 1, 3]), Ok(Outcome::Refused(vec![0, 2])));
        assert!(outcome(&[0]).is_err());
        assert!(outcome(&[]).is_err());
    }

    #[test]
    fn keys_use_the_prefix() {
        let k = script_keys(&Names::new("", "p:"));
        assert_eq!(k[0], "p:sink:applied");
        assert_eq!(k[1], "p:agg:state:count");
    }
}
