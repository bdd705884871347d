//! MongoDB sink: per-state topics -> collection `<db>.transactions`, one document per
//! transaction with `_id` = its id. Kafka offsets are committed only after the server
//! acknowledged the batch with the write concern (`majority` on a replica set, `w: 1` on a
//! standalone server, from `hello`'s `setName`).
//!
//! Redelivery never stores a transaction twice: a batch first looks up which of its ids are
//! stored (an indexed `_id $in` on MongoDB), then inserts the rest unordered; a duplicate-key
//! error on `_id` (another writer was first) counts as stored. Not upserts: the test bench's
//! server (noida-db) scans the whole collection for each upsert (16 ms each at 50,000
//! documents: half an hour for 100,000; docs/testing.md). The first write of an id wins, as in
//! Postgres.
//! Inserts go as `insert` commands with the documents in the command body and their count is
//! checked: the driver's `insert_many` sends them as an OP_MSG document sequence, which
//! noida-db acknowledges without storing anything. An insert whose reply does not account for
//! every document (noida-db stops at a unique-index violation without saying so) is redone one
//! document at a time, which gets each one its own answer.
//!
//! A message that breaks the validation rule, or that MongoDB refuses as data (a per-document
//! write error that is not transient: a validator, a unique index of a DBA's), is
//! dead-lettered; anything else (connection lost, timeout, failover, write concern not met)
//! is retried on a fresh client, then ends the sink uncommitted. Every connect, server
//! selection, read and write is bounded by `--mongo-timeout`, and a write that hangs longer
//! than `--liveness-timeout` fails /healthz.
use std::collections::HashSet;
use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::{ClientOptions, Credential, ReadConcern, ServerMonitoringMode};
use mongodb::{Client, Collection, Database};
use rdkafka::message::Message;

use kapture::component::Component;

use super::cli::{MongoArgs, SinkMongoArgs};
use super::consume::{commit_or_warn, next_batch};
use super::dead_letter::{split, DeadLetters, Letter};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::retry::retrying;
use super::shutdown::Shutdown;
use super::transaction::Location;
use super::validation::{parse_transaction, purchase_time, Rejection};

/// The collection, in `--mongo-db`.
pub const COLLECTION: &str = "transactions";

/// Document bytes per `insert` command: well under the 16 MiB a command body may have (a
/// validated transaction is at most a few hundred kB).
const INSERT_BYTES: usize = 8 << 20;

/// Error codes that say "try again", not "this document is wrong": MongoDB's retryable write
/// errors (not primary, shutting down, network, interrupted by a failover) and
/// timeouts, lock and write conflicts, write concern not satisfied.
const TRANSIENT_CODES: &[i32] = &[
    6, 7, 24, 46, 50, 64, 89, 91, 112, 134, 189, 262, 9001, 10107, 11600, 11601, 11602, 13435,
    13436,
];
/// Duplicate key (11000; 11001 and 12582 from older servers).
const DUPLICATE_KEY_CODES: &[i32] = &[11000, 11001, 12582];

/// The document of a message that passes the validation rule, which bounds every value to
/// what BSON holds: integers as Int64, the purchase time as a BSON date (milliseconds), plus
/// the store's `state` and the topic it came from.
pub fn document(topic: &str, payload: Option<&[u8]>) -> Result<Document, Rejection> {
    let t = parse_transaction(payload.unwrap_or_default())?;
    let time = purchase_time(&t.time)?;
    let int = |v: u64| Bson::Int64(i64::try_from(v).expect("validated ids and amounts fit i64"));
    let location = |l: &Location| doc! {"zip": &l.zip, "city": &l.city, "state": &l.state};
    let items: Vec<Bson> = t
        .items
        .iter()
        .map(|i| {
            Bson::Document(doc! {
                "sku": &i.sku,
                "category": &i.category,
                "brand": &i.brand,
                "description": &i.description,
                "price_cents": int(i.price_cents),
                "quantity": Bson::Int64(i.quantity.into()),
            })
        })
        .collect();
    Ok(doc! {
        "_id": &t.id,
        "time": DateTime::from_millis(time.as_millisecond()),
        "customer": {
            "id": int(t.customer.id),
            "name": &t.customer.name,
            "location": location(&t.customer.location),
        },
        "store": {
            "id": int(t.store.id),
            "name": &t.store.name,
            "location": location(&t.store.location),
        },
        "items": items,
        "total_cents": int(t.total_cents),
        "state": &t.store.location.state,
        "source_topic": topic,
    })
}

/// The transaction id of a document made by [`document`].
fn id_of(d: &Document) -> &str {
    d.get_str("_id")
        .expect("documents are keyed by their transaction id")
}

/// Indices of the first document of each id: the router may have written a transaction
/// twice, and both copies can arrive in one batch.
pub fn first_of_each<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .enumerate()
        .filter_map(|(i, id)| seen.insert(id).then_some(i))
        .collect()
}

/// Consecutive ranges of documents whose sizes add up to at most `limit` bytes each (a
/// document larger than that gets a range of its own).
pub fn chunks(sizes: &[usize], limit: usize) -> Vec<Range<usize>> {
    let (mut out, mut start, mut bytes) = (Vec::new(), 0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && bytes + size > limit {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// The write concern of every insert: acknowledged by a majority of a replica set (what a
/// failover cannot roll back), or by the one server there is. `wtimeout` makes the server
/// answer rather than wait forever for members that are down.
pub fn write_concern(set_name: Option<&str>, timeout: Duration) -> Document {
    let wtimeout = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    match set_name {
        Some(_) => doc! {"w": "majority", "wtimeout": wtimeout},
        None => doc! {"w": 1, "wtimeout": wtimeout},
    }
}

/// The lookup reads what a majority acknowledged on a replica set: a document a failed attempt
/// left on the primary alone is inserted again, and its duplicate-key answer waits for the
/// write concern like any write.
pub fn read_concern(set_name: Option<&str>) -> Option<ReadConcern> {
    set_name.map(|_| ReadConcern::majority())
}

/// What a per-document write error means for its message.
#[derive(Debug, Clone, PartialEq)]
pub enum DocError {
    /// Duplicate `_id`: stored by another writer first.
    AlreadyStored,
    /// Retry the batch.
    Transient(String),
    /// MongoDB refused the document itself: dead-letter it.
    Refused(String),
}

/// Classifies one entry of an `insert` reply's `writeErrors`.
pub fn classify(code: i32, message: &str, key_pattern: Option<&Document>) -> DocError {
    if DUPLICATE_KEY_CODES.contains(&code) {
        let on_id = match key_pattern {
            Some(k) => k.keys().eq(["_id"]),
            None => message.contains(" index: _id_ "),
        };
        if on_id {
            return DocError::AlreadyStored;
        }
    }
    let text = format!("{message} (code {code})");
    if TRANSIENT_CODES.contains(&code) {
        DocError::Transient(text)
    } else {
        DocError::Refused(format!("mongo refused the document: {text}"))
    }
}

/// What an `insert` of `sent` documents did, from the server's reply.
#[derive(Debug, Default, PartialEq)]
pub struct Inserted {
    /// New documents.
    pub inserted: u64,
    /// Documents another writer had stored (duplicate `_id`).
    pub already_stored: u64,
    /// (index in the command, reason) of the documents MongoDB refused.
    pub refused: Vec<(usize, String)>,
}

fn count(v: Option<&Bson>) -> Option<u64> {
    match v? {
        Bson::Int32(n) => u64::try_from(*n).ok(),
        Bson::Int64(n) => u64::try_from(*n).ok(),
        Bson::Double(n) if n.fract() == 0.0 && *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

/// Why an `insert` reply does not settle its documents.
#[derive(Debug, PartialEq)]
pub enum Unsettled {
    /// The write concern was not met, an error is transient, or the reply makes no sense:
    /// retry the batch.
    Retry(String),
    /// The counts do not add up to what was sent, with no error to say why.
    Unaccounted(String),
}

/// Reads an `insert` reply. A write that is not fully accounted for is never committed.
pub fn insert_outcome(reply: &Document, sent: usize) -> Result<Inserted, Unsettled> {
    let retry = |why: String| Unsettled::Retry(why);
    if count(reply.get("ok")) != Some(1) {
        return Err(retry(format!("the insert failed: {reply}")));
    }
    if let Ok(wce) = reply.get_document("writeConcernError") {
        return Err(retry(format!(
            "write concern not satisfied: {} (code {})",
            wce.get_str("errmsg").unwrap_or("-"),
            count(wce.get("code")).unwrap_or(0)
        )));
    }
    let mut out = Inserted {
        inserted: count(reply.get("n")).ok_or_else(|| retry(format!("no count in {reply}")))?,
        ..Inserted::default()
    };
    let errors = match reply.get("writeErrors") {
        None => &Vec::new(),
        Some(Bson::Array(errors)) => errors,
        Some(other) => return Err(retry(format!("writeErrors is not an array: {other}"))),
    };
    for e in errors {
        let e = e
            .as_document()
            .ok_or_else(|| retry(format!("a write error is not a document: {e}")))?;
        let index = count(e.get("index"))
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < sent)
            .ok_or_else(|| retry(format!("a write error names no document of the batch: {e}")))?;
        let code = count(e.get("code")).and_then(|c| i32::try_from(c).ok());
        let message = e.get_str("errmsg").unwrap_or("-");
        match classify(
            code.unwrap_or(0),
            message,
            e.get_document("keyPattern").ok(),
        ) {
            DocError::AlreadyStored => out.already_stored += 1,
            DocError::Transient(reason) => return Err(retry(reason)),
            DocError::Refused(reason) => out.refused.push((index, reason)),
        }
    }
    let accounted = out.inserted + out.already_stored + out.refused.len() as u64;
    if accounted != sent as u64 {
        return Err(Unsettled::Unaccounted(format!(
            "the server accounted for {accounted} of {sent} documents ({reply})"
        )));
    }
    Ok(out)
}

/// Connects to a single host directly unless told otherwise (as mongosh does): a replica set
/// member whose advertised name is not the address used (a Service, a port-forward, the test
/// bench) still answers, instead of the driver looking for the set under names it cannot reach.
pub fn connect_directly(hosts: usize, replica_set: bool, given: Option<bool>) -> Option<bool> {
    given.or((hosts == 1 && !replica_set).then_some(true))
}

/// SCRAM credentials against `admin` (the mechanism is negotiated), when a user is given.
pub fn credential(args: &MongoArgs) -> Option<Credential> {
    let user = args.mongo_user.clone()?;
    Some(
        Credential::builder()
            .username(user)
            .password(args.mongo_password.clone())
            .source("admin".to_string())
            .build(),
    )
}

/// Runs one MongoDB round trip with the client-side bound.
pub async fn bounded<T>(
    timeout: Duration,
    what: &str,
    f: impl std::future::IntoFuture<Output = mongodb::error::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, f.into_future()).await {
        Ok(r) => r.with_context(|| what.to_owned()),
        Err(_) => Err(anyhow!("{what}: MongoDB did not answer within {timeout:?}")),
    }
}

/// A connected client, the database and whether the server is a replica set member.
pub struct Mongo {
    pub client: Client,
    pub db: Database,
    /// `hello`'s `setName`: None for a standalone server.
    pub set_name: Option<String>,
    pub timeout: Duration,
}

impl Mongo {
    /// Connects and asks the server what it is (`hello`), all within `--mongo-timeout`.
    pub async fn connect(url: &str, args: &MongoArgs) -> Result<Self> {
        let what = || format!("connecting to MongoDB {url}");
        let mut opts = ClientOptions::parse(url).await.with_context(what)?;
        let timeout = args.mongo_timeout;
        opts.connect_timeout = Some(timeout);
        opts.server_selection_timeout = Some(timeout);
        opts.direct_connection = connect_directly(
            opts.hosts.len(),
            opts.repl_set_name.is_some(),
            opts.direct_connection,
        );
        opts.credential = credential(args);
        opts.app_name = Some("kapture-worker".into());
        // The server is checked every heartbeat (10 s) instead of through the streaming
        // protocol's awaitable `hello`: a server that advertises `topologyVersion` but answers
        // at once (noida-db does; so may other MongoDB look-alikes) turns the stream into a
        // busy loop of `hello`s that took most of a core from the sink and the server. A sink
        // learns of a failover from its writes' errors anyway.
        opts.server_monitoring_mode = Some(ServerMonitoringMode::Poll);
        // One batch at a time: a small pool keeps the sink's memory small.
        opts.max_pool_size = Some(4);
        let client = Client::with_options(opts).with_context(what)?;
        let hello = bounded(
            timeout,
            &what(),
            client.database("admin").run_command(doc! {"hello": 1}),
        )
        .await?;
        let set_name = hello.get_str("setName").ok().map(str::to_owned);
        Ok(Self {
            db: client.database(&args.mongo_db),
            client,
            set_name,
            timeout,
        })
    }

    pub fn collection(&self) -> Collection<Document> {
        self.db.collection(COLLECTION)
    }
}

/// What one batch did.
#[derive(Debug, Default, PartialEq)]
pub struct Written {
    pub inserted: u64,
    /// (index in the batch, reason) of the documents MongoDB refused.
    pub refused: Vec<(usize, String)>,
}

/// Indices of the documents whose ids are not stored yet, the first of each id only.
async fn unstored(mongo: &Mongo, docs: &[Document], among: &[usize]) -> Result<Vec<usize>> {
    let ids: Vec<&str> = among.iter().map(|&i| id_of(&docs[i])).collect();
    let stored: HashSet<String> = bounded(mongo.timeout, "looking up the batch's ids", async {
        let collection = mongo.collection();
        let find = collection
            .find(doc! {"_id": {"$in": &ids}})
            .projection(doc! {"_id": 1})
            .batch_size(u32::try_from(ids.len()).unwrap_or(u32::MAX));
        let find = match read_concern(mongo.set_name.as_deref()) {
            Some(rc) => find.read_concern(rc),
            None => find,
        };
        let found: Vec<Document> = find.await?.try_collect().await?;
        Ok(found
            .iter()
            .filter_map(|d| d.get_str("_id").ok().map(str::to_owned))
            .collect())
    })
    .await?;
    Ok(first_of_each(ids.iter().copied())
        .into_iter()
        .filter(|&i| !stored.contains(ids[i]))
        .map(|i| among[i])
        .collect())
}

/// One `insert` of the documents `part`: what it did (refusals indexed into `docs`), or
/// Ok(Err) when the reply does not account for all of them.
async fn insert(
    mongo: &Mongo,
    docs: &[Document],
    part: &[usize],
) -> Result<Result<Written, String>> {
    let command = doc! {
        "insert": COLLECTION,
        "documents": part.iter().map(|&i| docs[i].clone()).collect::<Vec<_>>(),
        "ordered": false,
        "writeConcern": write_concern(mongo.set_name.as_deref(), mongo.timeout),
    };
    let reply = bounded(
        mongo.timeout,
        "inserting a batch",
        mongo.db.run_command(command),
    )
    .await?;
    match insert_outcome(&reply, part.len()) {
        Ok(outcome) => Ok(Ok(Written {
            inserted: outcome.inserted,
            refused: outcome
                .refused
                .into_iter()
                .map(|(i, r)| (part[i], r))
                .collect(),
        })),
        Err(Unsettled::Unaccounted(why)) => Ok(Err(why)),
        Err(Unsettled::Retry(why)) => Err(anyhow!(why)),
    }
}

/// Writes the batch's documents that are not stored yet. Any error leaves the batch to be
/// retried as a whole (it is idempotent).
pub async fn write(mongo: &Mongo, docs: &[Document]) -> Result<Written> {
    let all: Vec<usize> = (0..docs.len()).collect();
    let looked_up = Instant::now();
    let fresh = unstored(mongo, docs, &all).await?;
    let lookup = looked_up.elapsed();
    let mut sizes = Vec::with_capacity(fresh.len());
    for &i in &fresh {
        sizes.push(docs[i].to_vec().context("encoding a document")?.len());
    }
    let mut written = Written::default();
    let mut add = |w: Written| {
        written.inserted += w.inserted;
        written.refused.extend(w.refused);
    };
    for range in chunks(&sizes, INSERT_BYTES) {
        let part = &fresh[range];
        match insert(mongo, docs, part).await? {
            Ok(w) => add(w),
            Err(why) if part.len() > 1 => {
                tracing::warn!(%why, "inserting the documents one at a time to find out which");
                for &i in part {
                    // Some of them may be stored now.
                    let one = unstored(mongo, docs, &[i]).await?;
                    if !one.is_empty() {
                        add(insert(mongo, docs, &one)
                            .await?
                            .map_err(anyhow::Error::msg)?);
                    }
                }
            }
            Err(why) => anyhow::bail!(why),
        }
    }
    tracing::debug!(
        documents = docs.len(),
        fresh = fresh.len(),
        lookup_ms = lookup.as_millis(),
        insert_ms = (looked_up.elapsed() - lookup).as_millis(),
        "batch written"
    );
    Ok(written)
}

/// [`write`], retried on a fresh client after an error (transient by then: data errors are
/// answers, not errors).
async fn write_retrying(
    mongo: &mut Mongo,
    args: &SinkMongoArgs,
    docs: &[Document],
    metrics: &Metrics,
) -> Result<Written> {
    retrying(
        mongo,
        metrics,
        "mongo",
        "batch write",
        async |mongo: &mut Mongo| write(mongo, docs).await,
        async || Mongo::connect(&args.mongo_url, &args.mongo).await,
    )
    .await
}

pub async fn run(args: SinkMongoArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::SinkMongo);
    metrics::serve(&args.metrics, metrics.clone(), shutdown.clone()).await?;
    let mut mongo = Mongo::connect(&args.mongo_url, &args.mongo).await?;

    let names = args.kafka.names("");
    let dead_letters = DeadLetters::new(&args.kafka.kafka_bootstrap, &names, Component::SinkMongo)?;
    let (consumer, group) = kafka_config::subscribed_consumer(
        &args.kafka.kafka_bootstrap,
        &names,
        &args.consumer,
        Component::SinkMongo,
        &names.state_topic_pattern(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, pattern = %names.state_topic_pattern(),
        collection = %format!("{}.{COLLECTION}", args.mongo.mongo_db),
        replica_set = mongo.set_name.as_deref().unwrap_or("none (standalone)"),
        "mongo sink up");

    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let _busy = metrics.busy();
        let started = Instant::now();
        let (docs, mut letters) = split(&batch, |m| document(m.topic(), m.payload()));
        if !docs.is_empty() {
            let (messages, docs): (Vec<_>, Vec<_>) = docs.into_iter().unzip();
            let written = write_retrying(&mut mongo, &args, &docs, &metrics).await?;
            metrics.produced.inc_by(written.inserted);
            letters.extend(written.refused.into_iter().map(|(i, reason)| Letter {
                message: messages[i],
                label: "mongo",
                reason,
            }));
        }
        dead_letters.send_all(&letters, &metrics).await?;
        metrics.latency.observe(started.elapsed().as_secs_f64());
        commit_or_warn(&consumer, &batch, &metrics);
    }
    tracing::info!("mongo sink stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXN: &str = r#"{"id":"t1","time":"2026-01-02T03:04:05.678901+01:00",
        "customer":{"id":9,"name":"A","location":{"zip":"02139","city":"c","state":"MA"}},
        "store":{"id":4,"name":"S","location":{"zip":"94103","city":"c","state":"CA"}},
        "items":[{"sku":"s","category":"c","brand":"b","description":"d","price_cents":5,"quantity":2}],
        "total_cents":10}"#;

    #[test]
    fn documents_hold_int64s_a_bson_date_the_state_and_the_topic() {
        let d = document("transactions.ca", Some(TXN.as_bytes())).unwrap();
        assert_eq!(d.get_str("_id").unwrap(), "t1");
        assert!(d.get("id").is_none(), "the id is the document's _id");
        // Milliseconds, UTC: 02:04:05.678.
        let time = d.get_datetime("time").unwrap();
        assert_eq!(time.timestamp_millis(), 1_767_319_445_678);
        assert_eq!(d.get_i64("total_cents").unwrap(), 10);
        let store = d.get_document("store").unwrap();
        assert_eq!(store.get_i64("id").unwrap(), 4);
        assert_eq!(
            store
                .get_document("location")
                .unwrap()
                .get_str("zip")
                .unwrap(),
            "94103"
        );
        assert_eq!(
            d.get_document("customer").unwrap().get_i64("id").unwrap(),
            9
        );
        let item = d.get_array("items").unwrap()[0].as_document().unwrap();
        assert_eq!(item.get_i64("price_cents").unwrap(), 5);
        assert_eq!(item.get_i64("quantity").unwrap(), 2);
        assert_eq!(d.get_str("state").unwrap(), "CA");
        assert_eq!(d.get_str("source_topic").unwrap(), "transactions.ca");
    }

    #[test]
    fn messages_breaking_the_rule_are_refused_by_field() {
        assert_eq!(document("t", None).unwrap_err().field, "json");
        let bad_time = TXN.replace("2026-01-02T03:04:05.678901+01:00", "0000-01-01T00:00:00Z");
        assert_eq!(
            document("t", Some(bad_time.as_bytes())).unwrap_err().field,
            "time"
        );
        let huge = TXN.replace("\"id\":9", &format!("\"id\":{}", 1u64 << 63));
        assert_eq!(
            document("t", Some(huge.as_bytes())).unwrap_err().field,
            "customer.id"
        );
    }

    #[test]
    fn the_biggest_valid_values_fit() {
        let max = TXN
            .replace("\"total_cents\":10", "\"total_cents\":10000000000")
            .replace("\"price_cents\":5", "\"price_cents\":100000000")
            .replace("\"quantity\":2", "\"quantity\":100")
            .replace("\"id\":4", &format!("\"id\":{}", i64::MAX))
            .replace(
                "2026-01-02T03:04:05.678901+01:00",
                "9998-12-31T23:59:59.999Z",
            );
        let d = document("t", Some(max.as_bytes())).unwrap();
        assert_eq!(
            d.get_document("store").unwrap().get_i64("id").unwrap(),
            i64::MAX
        );
        assert_eq!(
            d.get_datetime("time").unwrap().timestamp_millis(),
            crate::validation::END_UNIX_MS - 1
        );
    }

    #[test]
    fn a_batch_keeps_the_first_copy_of_each_id() {
        assert_eq!(first_of_each(["a", "b", "a", "c", "b"]), [0, 1, 3]);
        assert!(first_of_each([]).is_empty());
    }

    #[test]
    fn inserts_are_cut_by_size() {
        assert_eq!(chunks(&[3, 3, 3, 3], 6), [0..2, 2..4]);
        assert_eq!(
            chunks(&[10, 1, 1], 6),
            [0..1, 1..3],
            "an oversized one alone"
        );
        assert_eq!(chunks(&[1, 1], 6), vec![Range { start: 0, end: 2 }]);
        assert!(chunks(&[], 6).is_empty());
    }

    #[test]
    fn majority_on_a_replica_set_one_otherwise() {
        let t = Duration::from_secs(30);
        assert_eq!(
            write_concern(Some("rs0"), t),
            doc! {"w": "majority", "wtimeout": 30_000i64}
        );
        assert_eq!(write_concern(None, t), doc! {"w": 1, "wtimeout": 30_000i64});
        assert_eq!(read_concern(Some("rs0")), Some(ReadConcern::majority()));
        assert_eq!(read_concern(None), None);
    }

    #[test]
    fn write_errors_are_stored_retried_or_refused() {
        let id = doc! {"_id": 1};
        assert_eq!(
            classify(11000, "E11000", Some(&id)),
            DocError::AlreadyStored
        );
        assert_eq!(
            classify(
                11000,
                "E11000 duplicate key error collection: k.transactions index: _id_ dup key",
                None
            ),
            DocError::AlreadyStored
        );
        // A unique index a DBA added refuses the document itself.
        assert!(matches!(
            classify(11000, "E11000 index: store_1", Some(&doc! {"store.id": 1})),
            DocError::Refused(r) if r.contains("E11000 index: store_1 (code 11000)")
        ));
        assert!(matches!(
            classify(121, "Document failed validation", None),
            DocError::Refused(_)
        ));
        for transient in [10107, 11602, 91, 189, 64, 50, 112] {
            assert!(
                matches!(classify(transient, "x", None), DocError::Transient(_)),
                "{transient}"
            );
        }
    }

    #[test]
    fn insert_replies_must_account_for_every_document() {
        assert_eq!(
            insert_outcome(&doc! {"ok": 1.0, "n": 3}, 3),
            Ok(Inserted {
                inserted: 3,
                ..Inserted::default()
            })
        );
        let reply = doc! {"ok": 1, "n": 1, "writeErrors": [
            {"index": 0, "code": 11000, "errmsg": "dup", "keyPattern": {"_id": 1}},
            {"index": 2, "code": 121, "errmsg": "Document failed validation"},
        ]};
        let out = insert_outcome(&reply, 3).unwrap();
        assert_eq!((out.inserted, out.already_stored), (1, 1));
        assert_eq!(out.refused.len(), 1);
        assert_eq!(out.refused[0].0, 2);
        // Acknowledged without storing (what noida-db does with a document sequence).
        assert!(matches!(
            insert_outcome(&doc! {"ok": 1.0, "n": 0}, 2),
            Err(Unsettled::Unaccounted(why)) if why.contains("accounted for 0 of 2")
        ));
        let retry = |reply: Document, sent| match insert_outcome(&reply, sent) {
            Err(Unsettled::Retry(why)) => why,
            other => panic!("{reply}: {other:?}"),
        };
        assert!(retry(
            doc! {"ok": 1, "n": 2, "writeConcernError": {"code": 64, "errmsg": "waiting timed out"}},
            2
        )
        .contains("write concern not satisfied: waiting timed out (code 64)"));
        let transient = doc! {"ok": 1, "n": 1, "writeErrors": [
            {"index": 1, "code": 10107, "errmsg": "not primary"},
        ]};
        assert!(retry(transient, 2).contains("not primary"));
        let out_of_batch = doc! {"ok": 1, "n": 1, "writeErrors": [
            {"index": 7, "code": 121, "errmsg": "x"},
        ]};
        assert!(retry(out_of_batch, 2).contains("names no document"));
        assert!(retry(doc! {"ok": 0, "errmsg": "no"}, 1).contains("failed"));
    }

    #[test]
    fn a_single_host_is_connected_to_directly_unless_told() {
        assert_eq!(connect_directly(1, false, None), Some(true));
        assert_eq!(connect_directly(1, true, None), None);
        assert_eq!(connect_directly(3, false, None), None);
        assert_eq!(connect_directly(1, false, Some(false)), Some(false));
    }

    #[test]
    fn a_user_authenticates_against_admin() {
        let mut args = MongoArgs {
            mongo_user: None,
            mongo_password: None,
            mongo_db: "kapture".into(),
            mongo_timeout: Duration::from_secs(1),
        };
        assert!(credential(&args).is_none());
        args.mongo_user = Some("kapture".into());
        args.mongo_password = Some("pw".into());
        let c = credential(&args).unwrap();
        assert_eq!(c.username.as_deref(), Some("kapture"));
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.source.as_deref(), Some("admin"));
        assert!(c.mechanism.is_none(), "negotiated with the server");
    }
}
