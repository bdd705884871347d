//! Router: consumes `transactions`, writes each to `transactions.<state>`, and commits the
//! source offsets only after every message of the batch was acknowledged (at-least-once).
//! What breaks the validation rule goes to the dead-letter topic instead.
//!
//! Each routed message carries its position in `transactions` ([`ORIGIN_PARTITION`],
//! [`ORIGIN_OFFSET`]): a batch the router writes again after a restart then repeats positions
//! the Redis sink has already applied, which is how it skips them with bounded state. That
//! needs the router's writes to each partition to have no gaps, so its producer is gapless
//! (librdkafka fails fatally rather than let a later message overtake a lost one) and any
//! failed delivery ends the router without committing.
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::future::join_all;
use rdkafka::message::{Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use kapture::component::Component;

use super::cli::RouterArgs;
use super::consume::{commit_or_warn, next_batch};
use super::dead_letter::{split, text_headers, DeadLetters, Letter};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::names::Names;
use super::shutdown::Shutdown;
use super::validation::{parse_transaction, Rejection};

/// Header: partition of `transactions` the routed message came from.
pub const ORIGIN_PARTITION: &str = "kapture-origin-partition";
/// Header: its offset there.
pub const ORIGIN_OFFSET: &str = "kapture-origin-offset";

const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

/// The state (upper case) a transaction is routed by: its store's state, once the whole
/// transaction passed the validation rule every role applies.
pub fn route(payload: Option<&[u8]>) -> Result<String, Rejection> {
    let payload = payload.unwrap_or_default();
    parse_transaction(payload).map(|t| t.store.location.state)
}

/// One message to write: destination topic, key, payload and where it came from.
struct Out<'a> {
    topic: String,
    key: Option<&'a [u8]>,
    payload: &'a [u8],
    origin: (i32, i64),
}

pub async fn run(args: RouterArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::Router);
    metrics::serve(&args.metrics, metrics.clone(), shutdown.clone()).await?;
    let names = args.kafka.names("");
    let bootstrap = &args.kafka.kafka_bootstrap;
    let producer = kafka_config::gapless_producer(bootstrap)?;
    let dead_letters = DeadLetters::new(bootstrap, &names, Component::Router)?;
    let (consumer, group) = kafka_config::subscribed_consumer(
        bootstrap,
        &names,
        &args.consumer,
        Component::Router,
        &names.source_topic(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, source = %names.source_topic(), "router up");

    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let (out, letters) = plan(&batch, &names);
        let started = Instant::now();
        let _busy = metrics.busy();
        let (routed, dead) = tokio::join!(
            produce_all(&producer, &out, &metrics),
            dead_letters.send_all(&letters, &metrics)
        );
        routed?;
        dead?;
        metrics.latency.observe(started.elapsed().as_secs_f64());
        commit_or_warn(&consumer, &batch, &metrics);
    }
    producer.flush(Timeout::After(Duration::from_secs(10)))?;
    tracing::info!("router stopped");
    Ok(())
}

fn plan<'a>(batch: &'a [OwnedMessage], names: &Names) -> (Vec<Out<'a>>, Vec<Letter<'a>>) {
    // Unroutable input cannot become routable by retrying: it is dead-lettered.
    let (routable, letters) = split(batch, |m| route(m.payload()));
    let out = routable
        .into_iter()
        .map(|(m, state)| Out {
            topic: names.state_topic(&state),
            key: m.key(),
            payload: m.payload().unwrap_or_default(),
            origin: (m.partition(), m.offset()),
        })
        .collect();
    (out, letters)
}

fn origin_headers((partition, offset): (i32, i64)) -> OwnedHeaders {
    let (p, o) = (partition.to_string(), offset.to_string());
    text_headers(&[(ORIGIN_PARTITION, &p), (ORIGIN_OFFSET, &o)])
}

/// Delivers every message of the batch, or errors out (the router then exits uncommitted:
/// retrying only the failed ones would let them land behind later ones).
async fn produce_all(producer: &FutureProducer, out: &[Out<'_>], metrics: &Metrics) -> Result<()> {
    let sends = out.iter().map(|o| {
        let mut record = FutureRecord::to(&o.topic)
            .payload(o.payload)
            .headers(origin_headers(o.origin));
        if let Some(k) = o.key {
            record = record.key(k);
        }
        producer.send(record, Timeout::After(PRODUCE_TIMEOUT))
    });
    let mut failed = 0;
    for (o, r) in out.iter().zip(join_all(sends).await) {
        match r {
            Ok(_) => {
                metrics.produced.inc();
            }
            Err((e, _)) => {
                failed += 1;
                metrics.fail("produce");
                tracing::error!(topic = %o.topic, error = %e, "produce failed");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} messages could not be delivered; exiting without committing (the batch is routed again on restart)", out.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_store_state() {
        let mut g = crate::model::Generator::new(crate::model::GeneratorConfig::default());
        let mut buf = Vec::new();
        g.next_json(&mut buf);
        let txn: crate::transaction::Transaction = serde_json::from_slice(&buf).unwrap();
        assert_eq!(route(Some(&buf)).unwrap(), txn.store.location.state);
    }

    #[test]
    fn refuses_what_breaks_the_rule_naming_the_field() {
        assert_eq!(route(None).unwrap_err().field, "json");
        assert_eq!(route(Some(b"not json")).unwrap_err().field, "json");
        let mut g = crate::model::Generator::new(crate::model::GeneratorConfig::default());
        let mut buf = Vec::new();
        g.next_json(&mut buf);
        let mut v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        v["store"]["location"]["state"] = "ZZ".into();
        let r = route(Some(v.to_string().as_bytes())).unwrap_err();
        assert_eq!(r.field, "store.location.state", "{r}");
    }
}
