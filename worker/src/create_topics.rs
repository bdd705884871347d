//! `kapture-worker create-topics`: the deploy's topic Job, the one place topics are created.
//! Creates `transactions`, a per-state topic for each of the 50 states and DC, and the
//! dead-letter topic with the deploy's partitions, replication factor and topic configs
//! (retention among them) once Kafka answers; brokers may still be starting, so it retries,
//! bounded by `--timeout`. Topics already there are left as they are.
use std::time::Duration;

use anyhow::Result;

use super::cli::CreateTopicsArgs;
use super::kafka_config;

/// Pause between attempts.
const RETRY: Duration = Duration::from_secs(5);

pub async fn run(args: CreateTopicsArgs) -> Result<()> {
    let topics = args.kafka.names("").all_topics();
    let bootstrap = &args.kafka.kafka_bootstrap;
    let admin = kafka_config::admin(bootstrap)?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let created = kafka_config::ensure_topics(
            &admin,
            &topics,
            args.partitions,
            args.replication_factor,
            &args.configs,
        )
        .await;
        match created {
            Ok(()) => {
                tracing::info!(topics = topics.len(), first = %topics[0], partitions = args.partitions,
                    replication_factor = args.replication_factor, "topics in place");
                return Ok(());
            }
            Err(e) if tokio::time::Instant::now() + RETRY < deadline => {
                tracing::warn!(attempt, error = %format!("{e:#}"), "Kafka not ready for topic creation; retrying in 5 s");
                tokio::time::sleep(RETRY).await;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "creating {} topics at {bootstrap}: gave up after {attempt} attempts",
                    topics.len()
                )))
            }
        }
    }
}
