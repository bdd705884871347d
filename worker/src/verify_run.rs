//! `kapture-worker verify`: gathers acknowledged ids, Postgres rows, Redis aggregates, MongoDB
//! documents and per-state topic sizes, then hands them to the pure comparison in `verify`.
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use kapture::component::Component;
use mongodb::bson::{doc, Bson, Document};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use redis::AsyncCommands;

use super::acks;
use super::cli::VerifyArgs;
use super::dead_letter;
use super::names::{self, Names};
use super::redis_conn;
use super::sink_mongo::{self, Mongo};
use super::sink_postgres;

use super::verify::{
    compare, store_aggregates, uncommitted, DeadLetter, Inputs, MongoDoc, PgRow, Position, Report,
};

const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// How often `--settle` looks again.
const SETTLE_POLL: Duration = Duration::from_secs(2);
/// `--settle` stops early once the sinks show no progress for this long and have nothing left.
const SETTLE_QUIET: Duration = Duration::from_secs(20);

/// Runs the verification and prints the report; returns the report for the exit code.
///
/// With `--settle`, a failing verdict is looked at again while the sinks still catch up
/// (rows, documents or Redis counts change), up to the settle time; a verdict that stays the
/// same for [`SETTLE_QUIET`] is final once the flow's consumer groups have committed every
/// message ([`backlog`]).
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
            let left = backlog(&args).await?;
            if left == 0 {
                report = next;
                break;
            }
            // A sink that is restarting (a crash-loop back-off reaches minutes) makes no
            // progress for a while, but has not finished either.
            tracing::info!(
                uncommitted = left,
                "no progress for {SETTLE_QUIET:?}, but the flow's consumer groups have not \
                 committed everything yet: waiting"
            );
            last_change = tokio::time::Instant::now();
        }
        report = next;
    }
    kapture::output::print(args.output, &report)?;
    Ok(report)
}

/// What changes while the sinks still work: rows and documents stored, what Redis counted per
/// state, and what was dead-lettered.
fn progress(report: &Report) -> (u64, Option<u64>, Vec<Option<u64>>, Option<u64>) {
    (
        report.postgres_rows,
        report.mongo_documents,
        report.states.iter().map(|s| s.redis).collect(),
        report.dead_lettered,
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
        (None, Some(conn)) => acked_in_redis(conn, &names).await?,
        (None, None) => anyhow::bail!("give --ack-file or --ack-redis"),
    };

    let postgres = postgres_rows(args).await?;
    let mongo = match &args.mongo_url {
        Some(url) => Some(mongo_docs(&Mongo::connect(url, &args.mongo).await?).await?),
        None => None,
    };

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
    let dead_letters = {
        let bootstrap = args.kafka.kafka_bootstrap.clone();
        let topic = names.dead_letter_topic();
        tokio::task::spawn_blocking(move || read_dead_letters(&bootstrap, &topic)).await??
    };

    Ok(compare(&Inputs {
        acked,
        postgres,
        redis_states,
        redis_stores,
        topics,
        dead_letters: Some(dead_letters),
        mongo,
    }))
}

/// The id and state of every document of the Mongo sink's collection.
pub async fn mongo_docs(mongo: &Mongo) -> Result<Vec<MongoDoc>> {
    let what = format!("reading {}.{}", mongo.db.name(), sink_mongo::COLLECTION);
    let docs: Vec<Document> = sink_mongo::bounded(mongo.timeout, &what, async {
        mongo
            .collection()
            .aggregate([doc! {"$project": {"_id": 1, "state": 1}}])
            .await?
            .try_collect()
            .await
    })
    .await?;
    Ok(docs
        .iter()
        .map(|d| MongoDoc {
            // A document another writer keyed otherwise still counts, under its printed id.
            id: match d.get("_id") {
                Some(Bson::String(id)) => id.clone(),
                Some(other) => other.to_string(),
                None => "-".into(),
            },
            state: d.get_str("state").unwrap_or("-").to_owned(),
        })
        .collect())
}

/// Every id the load generators recorded in their ack bitmaps.
async fn acked_in_redis(
    conn: &mut redis::aio::MultiplexedConnection,
    names: &Names,
) -> Result<Vec<String>> {
    let prefix = names.acked_bitmap_prefix();
    let keys: Vec<String> = {
        let pattern = format!("{}*", names::glob_escape(&prefix));
        let mut iter: redis::AsyncIter<String> = conn
            .scan_match(&pattern)
            .await
            .with_context(|| format!("listing {pattern}"))?;
        let mut keys = Vec::new();
        while let Some(k) = futures::StreamExt::next(&mut iter).await {
            keys.push(k.context("listing ack bitmaps")?);
        }
        keys
    };
    let mut ids = Vec::new();
    for key in keys {
        let bitmap: Vec<u8> = conn
            .get(&key)
            .await
            .with_context(|| format!("reading {key}"))?;
        let suffix = &key[prefix.len()..];
        ids.extend(acks::ids_of(suffix, &bitmap).map_err(anyhow::Error::msg)?);
    }
    Ok(ids)
}

/// A client that reads as `group` without joining it (nothing is subscribed or committed).
fn kafka_client(bootstrap: &str, group: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .with_context(|| format!("creating a Kafka client for {bootstrap}"))
}

/// The whole dead-letter topic, from each partition's start to its end as of now. A topic
/// that does not exist holds no letters.
fn read_dead_letters(bootstrap: &str, topic: &str) -> Result<Vec<DeadLetter>> {
    let consumer = kafka_client(bootstrap, "kapture-verify")?;
    let mut assignment = TopicPartitionList::new();
    // Per partition, the offset after the last message as of now: read until each is reached
    // (offsets, not counts: a partition may skip offsets).
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for ((_, partition), (low, high)) in watermarks(&consumer, |t| t == topic)? {
        if high > low {
            assignment.add_partition_offset(topic, partition, Offset::Offset(low))?;
            ends.insert(partition, high);
        }
    }
    let mut letters = Vec::new();
    if ends.is_empty() {
        return Ok(letters);
    }
    consumer
        .assign(&assignment)
        .context("assigning the dead-letter topic")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "read {} dead letters of {topic} but not to its end within 60 s",
            letters.len()
        );
        let Some(m) = consumer.poll(Duration::from_secs(1)) else {
            continue;
        };
        let m = m.with_context(|| format!("reading {topic}"))?;
        if ends
            .get(&m.partition())
            .is_some_and(|end| m.offset() + 1 >= *end)
        {
            ends.remove(&m.partition());
        }
        letters.push(dead_letter_of(m.key(), m.payload(), m.headers()));
    }
    Ok(letters)
}

fn dead_letter_of(
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: Option<&rdkafka::message::BorrowedHeaders>,
) -> DeadLetter {
    #[derive(serde::Deserialize)]
    struct Partial {
        id: Option<String>,
        store: Option<PartialStore>,
        total_cents: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct PartialStore {
        id: u64,
        location: PartialLocation,
    }
    #[derive(serde::Deserialize)]
    struct PartialLocation {
        state: String,
    }
    let partial: Option<Partial> = payload.and_then(|p| serde_json::from_slice(p).ok());
    let id = key
        .and_then(|k| std::str::from_utf8(k).ok())
        .map(str::to_owned)
        .or_else(|| partial.as_ref().and_then(|p| p.id.clone()));
    let row = match (&id, partial) {
        (
            Some(id),
            Some(Partial {
                store: Some(s),
                total_cents: Some(cents),
                ..
            }),
        ) => Some(PgRow {
            id: id.clone(),
            state: s.location.state,
            store_id: s.id,
            total_cents: cents,
        }),
        _ => None,
    };
    let header = |k| dead_letter::header(headers, k).unwrap_or("-").to_owned();
    DeadLetter {
        id,
        role: header(dead_letter::ROLE),
        label: header(dead_letter::LABEL),
        reason: header(dead_letter::REASON),
        row,
    }
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

/// What the flow's consumer groups have not committed yet: the router's of the source topic,
/// and each verified sink's of the per-state topics (groups by their default names).
async fn backlog(args: &VerifyArgs) -> Result<u64> {
    // (role, whether it reads the per-state topics rather than the source topic)
    let mut readers = vec![(Component::Router, false), (Component::SinkPostgres, true)];
    if !args.no_redis {
        readers.push((Component::SinkRedis, true));
    }
    if args.mongo_url.is_some() {
        readers.push((Component::SinkMongo, true));
    }
    let bootstrap = args.kafka.kafka_bootstrap.clone();
    let names = args.kafka.names("");
    tokio::task::spawn_blocking(move || {
        let source = names.source_topic();
        let marks = watermarks(&kafka_client(&bootstrap, "kapture-verify")?, |t| {
            t == source || names.state_of_topic(t).is_some()
        })?;
        let mut left = 0;
        for (role, per_state) in readers {
            // `marks` holds the source topic and the per-state topics only.
            let read = marks.iter().filter(|((topic, _), _)| match per_state {
                true => *topic != source,
                false => *topic == source,
            });
            let group = names.group(&role.object_name());
            left += uncommitted(positions(&bootstrap, &group, read)?);
        }
        Ok(left)
    })
    .await?
}

/// Watermarks (low, high) of every partition of the topics `wanted` picks, by (topic,
/// partition).
fn watermarks(
    client: &BaseConsumer,
    wanted: impl Fn(&str) -> bool,
) -> Result<BTreeMap<(String, i32), (i64, i64)>> {
    let metadata = client
        .fetch_metadata(None, KAFKA_TIMEOUT)
        .context("fetching Kafka metadata")?;
    let mut out = BTreeMap::new();
    for topic in metadata.topics().iter().filter(|t| wanted(t.name())) {
        for p in topic.partitions() {
            let marks = client
                .fetch_watermarks(topic.name(), p.id(), KAFKA_TIMEOUT)
                .with_context(|| format!("watermarks of {}/{}", topic.name(), p.id()))?;
            out.insert((topic.name().to_owned(), p.id()), marks);
        }
    }
    Ok(out)
}

/// `group`'s committed offsets of the partitions `read`, with their watermarks.
fn positions<'a>(
    bootstrap: &str,
    group: &str,
    read: impl Iterator<Item = (&'a (String, i32), &'a (i64, i64))>,
) -> Result<Vec<Position>> {
    let mut partitions = TopicPartitionList::new();
    let mut marks = HashMap::new();
    for ((topic, partition), &(low, high)) in read {
        partitions.add_partition(topic, *partition);
        marks.insert((topic.as_str(), *partition), (low, high));
    }
    let committed = kafka_client(bootstrap, group)?
        .committed_offsets(partitions, KAFKA_TIMEOUT)
        .with_context(|| format!("reading the committed offsets of group {group}"))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| {
            let (low, high) = *marks.get(&(e.topic(), e.partition()))?;
            let committed = match e.offset() {
                Offset::Offset(n) => Some(n),
                _ => None,
            };
            Some(Position {
                low,
                high,
                committed,
            })
        })
        .collect())
}

/// Messages in each per-state topic (high minus low watermark over its partitions).
fn topic_counts(bootstrap: &str, names: &Names) -> Result<BTreeMap<String, u64>> {
    let client = kafka_client(bootstrap, "kapture-verify")?;
    let mut out = BTreeMap::new();
    for ((topic, _), (low, high)) in watermarks(&client, |t| names.state_of_topic(t).is_some())? {
        let state = names.state_of_topic(&topic).expect("picked by its state");
        *out.entry(state).or_default() += u64::try_from(high - low).unwrap_or(0);
    }
    Ok(out)
}
