//! Kafka client settings of each role (pure) and the small I/O helpers around them.
use std::time::Duration;

use anyhow::{Context, Result};
use kapture::component::Component;
use prometheus_client::metrics::gauge::Gauge;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};

use super::cli::ConsumerArgs;
use super::names::Names;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;

/// Producer settings: idempotent (no duplicates or reordering from librdkafka's own
/// retries), every in-sync replica acknowledges, small linger to batch under load.
pub fn producer_settings(bootstrap: &str) -> Vec<(&'static str, String)> {
    vec![
        ("bootstrap.servers", bootstrap.to_owned()),
        ("enable.idempotence", "true".into()),
        // Topics are the topic Job's (`create-topics`), with the deploy's settings; a
        // produce must never create one with the broker's defaults.
        ("allow.auto.create.topics", "false".into()),
        ("acks", "all".into()),
        ("linger.ms", "5".into()),
        ("compression.type", "lz4".into()),
        ("message.timeout.ms", "30000".into()),
        ("queue.buffering.max.messages", "200000".into()),
        // A producer needs a connection to every partition leader: open them as soon as
        // metadata names the brokers instead of one at a time, 50 ms apart
        // (`reconnect.backoff.ms` / 2), which every start paid once librdkafka 2.10 began
        // closing the bootstrap connection at the first metadata answer.
        ("enable.sparse.connections", "false".into()),
    ]
}

/// Consumer settings: manual commits only (at-least-once: a role commits what it has
/// finished), start from the beginning of new groups, statistics for the lag gauge, and a
/// short metadata refresh so regex subscriptions see new per-state topics quickly.
pub fn consumer_settings(
    bootstrap: &str,
    group: &str,
    instance: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("bootstrap.servers", bootstrap.to_owned()),
        ("group.id", group.to_owned()),
        ("enable.auto.commit", "false".into()),
        ("enable.auto.offset.store", "false".into()),
        ("auto.offset.reset", "earliest".into()),
        ("session.timeout.ms", "6000".into()),
        ("heartbeat.interval.ms", "2000".into()),
        // Also the rebalance timeout: how long a rebalance waits for members that died
        // without leaving (kill -9). Batches take well under a second, so 20 s is ample.
        ("max.poll.interval.ms", "20000".into()),
        ("topic.metadata.refresh.interval.ms", "2000".into()),
        ("statistics.interval.ms", "5000".into()),
        // librdkafka prefetches up to 64 MB per consumer by default; 8 MB keeps a lagging
        // sink well under its memory budget and is still many batches ahead.
        ("queued.max.messages.kbytes", "8192".into()),
    ];
    // Static membership: a restarted member with the same instance id takes its old place
    // at once instead of waiting for the group to expire the dead one.
    if let Some(id) = instance {
        settings.push(("group.instance.id", id.to_owned()));
    }
    settings
}

fn client_config(settings: &[(&'static str, String)]) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in settings {
        cfg.set(*k, v);
    }
    // librdkafka debug contexts (e.g. "cgrp,topic"), logged through tracing.
    if let Ok(debug) = std::env::var(kapture::contract::env::KAFKA_DEBUG) {
        cfg.set("debug", debug);
    }
    cfg
}

pub fn producer_config(bootstrap: &str) -> ClientConfig {
    client_config(&producer_settings(bootstrap))
}

/// A producer whose writes to a partition never have gaps: should a message fail for good,
/// librdkafka raises a fatal error instead of delivering the ones behind it (the router's
/// restart replay relies on it, see `router`).
pub fn gapless_producer(bootstrap: &str) -> Result<FutureProducer> {
    let mut cfg = producer_config(bootstrap);
    cfg.set("enable.gapless.guarantee", "true");
    cfg.create()
        .with_context(|| format!("creating a Kafka producer for {bootstrap}"))
}

pub fn producer(bootstrap: &str) -> Result<FutureProducer> {
    producer_config(bootstrap)
        .create()
        .with_context(|| format!("creating Kafka producer for {bootstrap}"))
}

/// Consumer context that publishes the total consumer lag from librdkafka's statistics.
pub struct LagContext {
    pub lag: Gauge,
}

impl ClientContext for LagContext {
    fn error(&self, error: KafkaError, reason: &str) {
        // A regex subscription reports this until its first topic exists: not an error.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
            tracing::debug!("librdkafka: {error}: {reason}");
        } else {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }

    fn stats(&self, stats: Statistics) {
        let parts = stats.topics.values().flat_map(|t| t.partitions.values());
        if let Some(lag) = total_lag(parts.map(|p| (p.partition, p.consumer_lag))) {
            self.lag.set(lag);
        }
    }
}

impl ConsumerContext for LagContext {}

/// Sum of known lags over (partition, lag) pairs; librdkafka reports -1 for an unknown lag
/// and partition -1 for its internal unassigned queue. None if no lag is known.
pub fn total_lag(parts: impl IntoIterator<Item = (i32, i64)>) -> Option<i64> {
    let lags: Vec<i64> = parts
        .into_iter()
        .filter(|(p, lag)| *p >= 0 && *lag >= 0)
        .map(|(_, lag)| lag)
        .collect();
    (!lags.is_empty()).then(|| lags.iter().sum())
}

pub fn consumer(
    bootstrap: &str,
    group: &str,
    instance: Option<&str>,
    lag: Gauge,
) -> Result<StreamConsumer<LagContext>> {
    client_config(&consumer_settings(bootstrap, group, instance))
        .create_with_context(LagContext { lag })
        .with_context(|| format!("creating Kafka consumer (group {group}) for {bootstrap}"))
}

/// The consumer of a role's group (its object name, `kapture-<role>`, unless --group-id is
/// given; the verifier assumes the default), subscribed to `topic` (a name, or a `^`
/// pattern). Returns it with the group's full name.
pub fn subscribed_consumer(
    bootstrap: &str,
    names: &Names,
    args: &ConsumerArgs,
    role: Component,
    topic: &str,
    lag: Gauge,
) -> Result<(StreamConsumer<LagContext>, String)> {
    let group = names.group(args.group_id.as_deref().unwrap_or(&role.object_name()));
    let consumer = consumer(bootstrap, &group, args.group_instance_id.as_deref(), lag)?;
    consumer
        .subscribe(&[topic])
        .with_context(|| format!("subscribing group {group} to {topic}"))?;
    Ok((consumer, group))
}

/// Whether `topic` exists with at least one partition (a missing topic is not an error in
/// a metadata answer, only a flag on the topic).
pub fn topic_exists<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<bool> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("fetching metadata of {topic}"))?;
    Ok(metadata
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
}

/// Asks for `topic`'s metadata once more, from a broker the first answer named, so that an
/// idempotent producer gets its producer id now rather than in 500 ms. librdkafka (2.10 and
/// later) closes the bootstrap connection as soon as metadata names the brokers; a producer
/// that asked for its id in that moment waits for a 500 ms retry timer, holding every message
/// (a third of a 200,000-message run at full speed). It also asks for the id whenever a
/// metadata answer arrives, which is what this second answer does.
pub fn hasten_producer_id<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<()> {
    client
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("fetching metadata of {topic}"))?;
    Ok(())
}

pub fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>> {
    client_config(&[("bootstrap.servers", bootstrap.to_owned())])
        .create()
        .with_context(|| format!("creating Kafka admin client for {bootstrap}"))
}

/// Creates the topics that do not exist yet, with the topic `configs` (`min.insync.replicas`,
/// ...); an existing topic is fine and is left as it is.
pub async fn ensure_topics(
    admin: &AdminClient<DefaultClientContext>,
    names: &[String],
    partitions: i32,
    replication: i32,
    configs: &[(String, String)],
) -> Result<()> {
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| {
            configs.iter().fold(
                NewTopic::new(n, partitions, TopicReplication::Fixed(replication)),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    // Both bounds: an unreachable broker would otherwise hold the request for librdkafka's
    // default of a minute.
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&topics, &opts)
        .await
        .context("creating topics")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(s: &'a [(&'static str, String)], k: &str) -> &'a str {
        s.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} missing"))
    }

    #[test]
    fn producer_is_idempotent_with_acks_all() {
        let s = producer_settings("b:9092");
        assert_eq!(get(&s, "enable.idempotence"), "true");
        assert_eq!(get(&s, "acks"), "all");
        assert_eq!(get(&s, "bootstrap.servers"), "b:9092");
    }

    #[test]
    fn consumer_commits_manually() {
        let s = consumer_settings("b:9092", "g", None);
        assert!(s.iter().all(|(k, _)| *k != "group.instance.id"));
        let s = consumer_settings("b:9092", "g", Some("router-0"));
        assert_eq!(get(&s, "group.instance.id"), "router-0");
        assert_eq!(get(&s, "enable.auto.commit"), "false");
        assert_eq!(get(&s, "enable.auto.offset.store"), "false");
        assert_eq!(get(&s, "group.id"), "g");
        assert_eq!(get(&s, "auto.offset.reset"), "earliest");
    }

    #[test]
    fn lag_sums_known_partitions_only() {
        assert_eq!(total_lag([(0, 5), (1, -1), (-1, 9), (2, 3)]), Some(8));
        assert_eq!(total_lag([(0, -1)]), None);
    }
}
