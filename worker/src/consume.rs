//! Batch consumption shared by the router and the sinks: take a batch, process it, then
//! commit exactly the offsets of that batch (at-least-once).
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::kafka_config::LagContext;
use super::metrics::Metrics;
use super::offsets::commit_positions;
use super::shutdown::Shutdown;

/// How long a batch waits for more messages once it has one.
const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// The next batch (1..=max messages), or None once shutdown was requested.
pub async fn next_batch(
    consumer: &StreamConsumer<LagContext>,
    max: usize,
    metrics: &Metrics,
    shutdown: &mut Shutdown,
) -> Option<Vec<OwnedMessage>> {
    let mut batch = Vec::new();
    while batch.is_empty() {
        let received = tokio::select! {
            biased;
            _ = shutdown.wait() => return None,
            r = consumer.recv() => r,
        };
        match received {
            Ok(m) => batch.push(m.detach()),
            // A regex subscription reports this until the first matching topic exists.
            Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                tracing::debug!("no subscribed topic exists yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                metrics.fail("consume");
                tracing::warn!(error = %e, "consume error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => batch.push(m.detach()),
            Ok(Err(e)) => {
                metrics.fail("consume");
                tracing::warn!(error = %e, "consume error");
                break;
            }
            Err(_) => break,
        }
    }
    metrics.consumed.inc_by(batch.len() as u64);
    Some(batch)
}

/// Commits the positions after every message of a fully processed batch.
pub fn commit(consumer: &StreamConsumer<LagContext>, batch: &[OwnedMessage]) -> Result<()> {
    let positions = commit_positions(batch.iter().map(|m| (m.topic(), m.partition(), m.offset())));
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in positions {
        tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
            .with_context(|| format!("offset for {topic}/{partition}"))?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .context("committing offsets")
}

/// Commits, but a failed commit (e.g. partitions revoked by a rebalance) only means those
/// messages are delivered again, which every consumer here tolerates.
pub fn commit_or_warn(
    consumer: &StreamConsumer<LagContext>,
    batch: &[OwnedMessage],
    metrics: &Metrics,
) {
    if let Err(e) = commit(consumer, batch) {
        metrics.fail("commit");
        tracing::warn!(error = %format!("{e:#}"), "offset commit failed; the batch will be redelivered");
    }
}
