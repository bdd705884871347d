//! Router: consumes `transactions`, writes each to `transactions.<state>`, and commits the
//! source offsets only after every message of the batch was acknowledged (at-least-once).
use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::future::join_all;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use serde::Deserialize;

use kapture::component::Component;

use super::cli::RouterArgs;
use super::consume::{commit_or_warn, next_batch};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::names::Names;
use super::shutdown::Shutdown;

/// Attempts to deliver one batch before the router gives up (and exits without committing).
const PRODUCE_ATTEMPTS: u32 = 5;
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Routing {
    store: RoutingStore,
}
#[derive(Deserialize)]
struct RoutingStore {
    location: RoutingLocation,
}
#[derive(Deserialize)]
struct RoutingLocation {
    state: String,
}

/// The state (upper case) a transaction is routed by: its store's state.
pub fn route(payload: Option<&[u8]>) -> Result<String, String> {
    let payload = payload.ok_or("empty message")?;
    let r: Routing =
        serde_json::from_slice(payload).map_err(|e| format!("not a transaction: {e}"))?;
    let state = r.store.location.state;
    if state.len() == 2 && state.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(state.to_ascii_uppercase())
    } else {
        Err(format!("store state {state:?} is not a two-letter code"))
    }
}

/// One message to write: destination topic, key and payload.
struct Out<'a> {
    topic: String,
    key: Option<&'a [u8]>,
    payload: &'a [u8],
}

pub async fn run(args: RouterArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::Router);
    metrics::serve(
        args.metrics.metrics_listen,
        metrics.clone(),
        shutdown.clone(),
    )
    .await?;
    let names = args.kafka.names("");
    let bootstrap = &args.kafka.kafka_bootstrap;
    let (partitions, rf) = (args.kafka.partitions, args.kafka.replication_factor);
    let admin = kafka_config::admin(bootstrap)?;
    kafka_config::ensure_topics(&admin, &[names.source_topic()], partitions, rf, &[]).await?;
    let producer = kafka_config::producer(bootstrap)?;
    let (consumer, group) = kafka_config::subscribed_consumer(
        bootstrap,
        &names,
        &args.consumer,
        "kapture-router",
        &names.source_topic(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, source = %names.source_topic(), "router up");

    let mut known_topics: HashSet<String> = HashSet::new();
    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let out = plan(&batch, &names, &metrics);
        let new: Vec<String> = out
            .iter()
            .map(|o| o.topic.clone())
            .filter(|t| !known_topics.contains(t))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !new.is_empty() {
            kafka_config::ensure_topics(&admin, &new, partitions, rf, &[]).await?;
            known_topics.extend(new);
        }
        let started = Instant::now();
        produce_all(&producer, &out, &metrics).await?;
        metrics.latency.observe(started.elapsed().as_secs_f64());
        commit_or_warn(&consumer, &batch, &metrics);
    }
    producer.flush(Timeout::After(Duration::from_secs(10)))?;
    tracing::info!("router stopped");
    Ok(())
}

fn plan<'a>(batch: &'a [OwnedMessage], names: &Names, metrics: &Metrics) -> Vec<Out<'a>> {
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        match route(m.payload()) {
            Ok(state) => out.push(Out {
                topic: names.state_topic(&state),
                key: m.key(),
                payload: m.payload().unwrap_or_default(),
            }),
            Err(reason) => {
                // Unroutable input cannot become routable by retrying: count it and move on.
                metrics.fail("invalid");
                tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), %reason, "skipping message");
            }
        }
    }
    out
}

/// Delivers every message, retrying the failed ones; errors out if some never make it.
async fn produce_all(producer: &FutureProducer, out: &[Out<'_>], metrics: &Metrics) -> Result<()> {
    let mut pending: Vec<&Out> = out.iter().collect();
    for attempt in 1..=PRODUCE_ATTEMPTS {
        let sends = pending.iter().map(|o| {
            let mut record = FutureRecord::to(&o.topic).payload(o.payload);
            if let Some(k) = o.key {
                record = record.key(k);
            }
            producer.send(record, Timeout::After(PRODUCE_TIMEOUT))
        });
        let results = join_all(sends).await;
        let mut failed = Vec::new();
        for (o, r) in pending.into_iter().zip(results) {
            match r {
                Ok(_) => {
                    metrics.produced.inc();
                }
                Err((e, _)) => {
                    metrics.fail("produce");
                    tracing::warn!(topic = %o.topic, error = %e, attempt, "produce failed");
                    failed.push(o);
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        pending = failed;
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
    }
    bail!("{} messages could not be delivered after {PRODUCE_ATTEMPTS} attempts; exiting without committing", pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_store_state() {
        let p = br#"{"id":"1","store":{"id":3,"location":{"state":"ca","zip":"1"}},"customer":{}}"#;
        assert_eq!(route(Some(p)).unwrap(), "CA");
    }

    #[test]
    fn rejects_unroutable_payloads() {
        assert!(route(None).is_err());
        assert!(route(Some(b"not json"))
            .unwrap_err()
            .contains("not a transaction"));
        assert!(route(Some(br#"{"store":{"location":{"state":"C1"}}}"#))
            .unwrap_err()
            .contains("two-letter"));
        assert!(route(Some(br#"{"store":{}}"#)).is_err());
    }
}
