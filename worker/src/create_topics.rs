//! `kapture-worker create-topics`: the deploy's topic Job. Creates `transactions` with the
//! deploy's partitions, replication factor and topic configs once Kafka answers; brokers may
//! still be starting, so it retries, bounded by `--timeout`.
use std::time::Duration;

use anyhow::Result;

use super::cli::CreateTopicsArgs;
use super::kafka_config;

/// Pause between attempts.
const RETRY: Duration = Duration::from_secs(5);

pub async fn run(args: CreateTopicsArgs) -> Result<()> {
    let topic = args.kafka.names("").source_topic();
    let bootstrap = &args.kafka.kafka_bootstrap;
    let admin = kafka_config::admin(bootstrap)?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let created = kafka_config::ensure_topics(
            &admin,
            std::slice::from_ref(&topic),
            args.kafka.partitions,
            args.kafka.replication_factor,
            &args.configs,
        )
        .await;
        match created {
            Ok(()) => {
                tracing::info!(%topic, partitions = args.kafka.partitions,
                    replication_factor = args.kafka.replication_factor, "topic in place");
                return Ok(());
            }
            Err(e) if tokio::time::Instant::now() + RETRY < deadline => {
                tracing::warn!(attempt, error = %format!("{e:#}"), "Kafka not ready for topic creation; retrying in 5 s");
                tokio::time::sleep(RETRY).await;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "creating {topic} at {bootstrap}: gave up after {attempt} attempts"
                )))
            }
        }
    }
}
