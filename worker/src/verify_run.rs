//! `kapture-worker verify`: gathers acknowledged ids, Postgres rows, Redis aggregates and
//! per-state topic sizes, then hands them to the pure comparison in `verify`.
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use redis::AsyncCommands;

use super::cli::VerifyArgs;
use super::names::Names;
use super::redis_conn;
use super::sink_postgres;

use super::verify::{compare, store_aggregates, Inputs, PgRow, Report};

const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// How often `--settle` looks again.
const SETTLE_POLL: Duration = Duration::from_secs(2);
/// `--settle` stops early once Postgres and Redis show no progress for this long.
const SETTLE_QUIET: Duration = Duration::from_secs(20);

/// Runs the verification and prints the report; returns the report for the exit code.
///
/// With `--settle`, a failing verdict is looked at again while the sinks still catch up
/// (rows or Redis counts change), up to the settle time; a verdict that stays the same for
/// [`SETTLE_QUIET`] is final.
pub async fn run(args: VerifyArgs) -> Result<Report> {
    let deadline = tokio::time::Instant::now() + args.settle;
    let mut report = gather(&args).await?;
    let mut last_change = tokio::time::Instant::now();
    while !report.ok && tokio::time::Instant::now() + SETTLE_POLL <= deadline {
        tokio::time::sleep(SETTLE_POLL).await;
        let next = gather(&args).await?;
        if progress(&report) != progress(&next) {
            last_change = tokio::time::Instant::now();
        } else if last_change.elapsed() >= SETTLE_QUIET {
            report = next;
            break;
        }
        report = next;
    }
    kapture::output::print(args.output, &report)?;
    Ok(report)
}

/// What changes while the sinks still work: rows stored and what Redis counted per state.
fn progress(report: &Report) -> (u64, Vec<Option<u64>>) {
    (
        report.postgres_rows,
        report.states.iter().map(|s| s.redis).collect(),
    )
}

/// Reads every input once and compares them.
async fn gather(args: &VerifyArgs) -> Result<Report> {
    let names = args.kafka.names(&args.redis.redis_prefix);
    let needs_redis = args.ack_redis || !args.no_redis;
    let mut redis = if needs_redis {
        Some(redis_conn::connect(&redis_conn::client(&args.redis.redis_url)?).await?)
    } else {
        None
    };

    let acked: Vec<String> = match (&args.ack_file, &mut redis) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading ack file {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        (None, Some(conn)) => conn
            .smembers(names.acked_set())
            .await
            .with_context(|| format!("reading {}", names.acked_set()))?,
        (None, None) => anyhow::bail!("give --ack-file or --ack-redis"),
    };

    let postgres = postgres_rows(args).await?;

    let (redis_states, redis_stores) = match (&mut redis, args.no_redis) {
        (Some(conn), false) => {
            let states: BTreeMap<String, u64> = conn
                .hgetall(names.agg_state_count())
                .await
                .context("reading state counts")?;
            let counts: HashMap<String, u64> = conn
                .hgetall(names.agg_store_count())
                .await
                .context("reading store counts")?;
            let revenue: HashMap<String, u64> = conn
                .hgetall(names.agg_store_revenue())
                .await
                .context("reading store revenue")?;
            let stores = store_aggregates(&counts, &revenue).map_err(anyhow::Error::msg)?;
            (Some(states), Some(stores))
        }
        _ => (None, None),
    };

    let topics = if args.topics {
        let bootstrap = args.kafka.kafka_bootstrap.clone();
        let names = names.clone();
        Some(tokio::task::spawn_blocking(move || topic_counts(&bootstrap, &names)).await??)
    } else {
        None
    };

    Ok(compare(&Inputs {
        acked,
        postgres,
        redis_states,
        redis_stores,
        topics,
    }))
}

async fn postgres_rows(args: &VerifyArgs) -> Result<Vec<PgRow>> {
    let client = sink_postgres::connect(&args.postgres).await?;
    let table = format!("{}.transactions", args.postgres.postgres_schema);
    let rows = client
        .query(
            &format!("SELECT id, state, store_id, total_cents FROM {table}"),
            &[],
        )
        .await
        .with_context(|| format!("reading {table}"))?;
    rows.iter()
        .map(|r| {
            let (store, cents): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
            Ok(PgRow {
                id: r.try_get(0)?,
                state: r.try_get(1)?,
                store_id: u64::try_from(store).context("negative store id")?,
                total_cents: u64::try_from(cents).context("negative total")?,
            })
        })
        .collect()
}

/// Messages in each per-state topic (high minus low watermark over its partitions).
fn topic_counts(bootstrap: &str, names: &Names) -> Result<BTreeMap<String, u64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .with_context(|| format!("creating a Kafka client for {bootstrap}"))?;
    let metadata = consumer
        .fetch_metadata(None, KAFKA_TIMEOUT)
        .context("fetching Kafka metadata")?;
    let mut out = BTreeMap::new();
    for topic in metadata.topics() {
        let Some(state) = names.state_of_topic(topic.name()) else {
            continue;
        };
        let mut n = 0u64;
        for p in topic.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic.name(), p.id(), KAFKA_TIMEOUT)
                .with_context(|| format!("watermarks of {}/{}", topic.name(), p.id()))?;
            n += u64::try_from(high - low).unwrap_or(0);
        }
        *out.entry(state).or_default() += n;
    }
    Ok(out)
}
