//! The validation rule's promise, against the servers of the test bench (PostgreSQL, Redis and
//! noida-db's MongoDB protocol on 127.0.0.1: KAPTURE_TEST_POSTGRES, KAPTURE_TEST_REDIS,
//! KAPTURE_TEST_MONGO_URL): every transaction the order service accepts is storable by every
//! sink. Transactions are generated at and beyond every boundary (seeded, so a failure
//! repeats); each accepted one goes through the Postgres sink's own insert, the Redis sink's own
//! script and the Mongo sink's own document and write, which must all take it.
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use kapture_worker::cli::MongoArgs;
use kapture_worker::model::{Generator, GeneratorConfig};
use kapture_worker::names::Names;
use kapture_worker::sink_mongo::{self, Mongo};
use kapture_worker::sink_postgres::{create_sql, insert_sql, Columns};
use kapture_worker::sink_redis::{run_script, script_keys, Entry, Outcome, AGGREGATE_SCRIPT};
use kapture_worker::validation::{self, parse_transaction};

fn bench_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("{name} is not set: start the test bench (scripts/testbench/start.sh) and source its env file"),
    }
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("st_{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Integers at and around every limit a field has, and some that are not integers at all.
fn number(rng: &mut ChaCha8Rng, limit: u64) -> Value {
    let i63 = i64::MAX as u64;
    let candidates = [
        json!(0),
        json!(1),
        json!(limit - 1),
        json!(limit),
        json!(limit + 1),
        json!(i63),
        json!(i63 + 1),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        json!(1e3),
        json!("12"),
        json!(rng.random_range(0..=limit)),
    ];
    candidates.choose(rng).unwrap().clone()
}

fn text(rng: &mut ChaCha8Rng, limit: usize) -> Value {
    let pieces = [
        "a", "Zoë", "'", "\"", "\\", "\u{0}", "\u{7f}", "\t", "😀", "\u{85}", " ",
    ];
    let len = *[
        0,
        1,
        limit - 1,
        limit,
        limit + 1,
        rng.random_range(0..limit),
    ]
    .choose(rng)
    .unwrap();
    let s: String = (0..len)
        .map(|_| {
            if rng.random_bool(0.9) {
                "x"
            } else {
                pieces.choose(rng).unwrap()
            }
        })
        .collect();
    json!(s)
}

fn time(rng: &mut ChaCha8Rng) -> Value {
    let times = [
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999999999Z",
        "9999-12-31T23:59:59-01:00",
        "1970-01-01T00:00:00+14:00",
        "2026-02-29T00:00:00Z",
        "2024-02-29T24:00:00Z",
        "2026-01-02T03:04:05.123456789+05:30",
        "2026-01-02T03:04:05",
        "+002026-01-02T03:04:05Z",
        "2026-01-02T03:04:05Z[UTC]",
        "20260102T030405Z",
        "2026-01-02T03:04:60Z",
    ];
    json!(times.choose(rng).unwrap())
}

fn state(rng: &mut ChaCha8Rng) -> Value {
    let states = [
        "CA", "DC", "WY", "PR", "GU", "ZZ", "ca", "C", "CAL", "", "Ca",
    ];
    json!(states.choose(rng).unwrap())
}

/// A generated transaction with a few fields pushed to or past a boundary.
fn mutated(rng: &mut ChaCha8Rng, base: &Value) -> Value {
    let mut v = base.clone();
    for _ in 0..rng.random_range(1..=3) {
        let items = v["items"].as_array().map_or(0, Vec::len);
        let i = rng.random_range(0..items.max(1));
        let pick = rng.random_range(0..14);
        if items == 0 && matches!(pick, 7 | 8 | 9 | 11) {
            continue;
        }
        match pick {
            0 => v["id"] = text(rng, validation::MAX_ID_LEN),
            1 => v["time"] = time(rng),
            2 => v["customer"]["id"] = number(rng, validation::MAX_ENTITY_ID),
            3 => v["store"]["id"] = number(rng, validation::MAX_ENTITY_ID),
            4 => v["customer"]["name"] = text(rng, validation::MAX_TEXT_LEN),
            5 => v["store"]["location"]["state"] = state(rng),
            6 => v["customer"]["location"]["state"] = state(rng),
            7 => v["items"][i]["price_cents"] = number(rng, validation::MAX_PRICE_CENTS),
            8 => v["items"][i]["quantity"] = number(rng, u64::from(validation::MAX_QUANTITY)),
            9 => v["items"][i]["description"] = text(rng, validation::MAX_TEXT_LEN),
            10 => {
                v["store"]["location"]["zip"] = json!(["02139", "0213", "02139-1234", "abcde"]
                    .choose(rng)
                    .unwrap())
            }
            11 => {
                let item = v["items"][0].clone();
                let n = *[validation::MAX_ITEMS, validation::MAX_ITEMS + 1, 0]
                    .choose(rng)
                    .unwrap();
                v["items"] = Value::Array(vec![item; n]);
            }
            12 => v["total_cents"] = number(rng, validation::MAX_TOTAL_CENTS),
            _ => {}
        }
        // Usually keep the total consistent, so the other checks are what decides.
        if rng.random_bool(0.8) {
            let sum = v["items"].as_array().and_then(|items| {
                items.iter().try_fold(0u64, |acc, it| {
                    let line = it["price_cents"]
                        .as_u64()?
                        .checked_mul(it["quantity"].as_u64()?)?;
                    acc.checked_add(line)
                })
            });
            if let Some(sum) = sum {
                v["total_cents"] = json!(sum);
            }
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_transaction_is_storable_by_every_sink() {
    let pg = tokio_postgres::Config::from_str(&bench_var("KAPTURE_TEST_POSTGRES")).unwrap();
    let (client, conn) = pg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let schema = unique("pg");
    client.batch_execute(&create_sql(&schema)).await.unwrap();
    let insert = client.prepare(&insert_sql(&schema)).await.unwrap();

    let redis = redis::Client::open(bench_var("KAPTURE_TEST_REDIS").as_str()).unwrap();
    // The sinks' own connection settings: the client's default 500 ms response timeout is
    // too tight for a loaded machine running the suite in parallel.
    let mut rconn = kapture_worker::redis_conn::connect(&redis).await.unwrap();
    let prefix = format!("{}:", unique("redis"));
    let keys = script_keys(&Names::new("", &prefix));
    let script = redis::Script::new(AGGREGATE_SCRIPT);

    let mongo_args = MongoArgs {
        mongo_user: None,
        mongo_password: None,
        mongo_db: unique("mongo"),
        mongo_timeout: std::time::Duration::from_secs(20),
    };
    let mongo = Mongo::connect(&bench_var("KAPTURE_TEST_MONGO_URL"), &mongo_args)
        .await
        .expect("connecting to the bench's MongoDB");
    let mut documents = Vec::new();

    let mut generator = Generator::new(GeneratorConfig {
        seed: 7,
        stores: 50,
        customers: 500,
        ..Default::default()
    });
    let mut rng = ChaCha8Rng::seed_from_u64(20261203);
    let mut buf = Vec::new();
    let (mut accepted, mut refused) = (0u64, std::collections::BTreeMap::<&str, u64>::new());
    let mut ids = std::collections::HashSet::new();
    for n in 0..4000u32 {
        buf.clear();
        generator.next_json(&mut buf);
        let base: Value = serde_json::from_slice(&buf).unwrap();
        let body = mutated(&mut rng, &base).to_string();
        let txn = match parse_transaction(body.as_bytes()) {
            Ok(t) => t,
            Err(r) => {
                *refused.entry(r.field).or_default() += 1;
                continue;
            }
        };
        // Mutated ids may repeat: Postgres then keeps the first (ON CONFLICT DO NOTHING).
        let new_id = ids.insert(txn.id.clone());
        let mut cols = Columns::default();
        cols.push("transactions.xx", Some(body.as_bytes()))
            .unwrap_or_else(|r| panic!("accepted but the Postgres sink refuses it ({r}): {body}"));
        let inserted = client
            .execute(&insert, &cols.params())
            .await
            .unwrap_or_else(|e| panic!("accepted but Postgres refuses it ({e:?}): {body}"));
        assert_eq!(inserted, u64::from(new_id), "{body}");
        let entry = Entry {
            stream: "transactions.xx/0".into(),
            offset: i64::from(n),
            state: txn.store.location.state.clone(),
            store: txn.store.id,
            cents: txn.total_cents,
        };
        let outcome = run_script(&mut rconn, &script, &keys, &[&entry])
            .await
            .unwrap_or_else(|e| panic!("accepted but the Redis script fails ({e:#}): {body}"));
        assert_eq!(outcome, Outcome::Applied(1), "{body}");
        let document = sink_mongo::document("transactions.xx", Some(body.as_bytes()))
            .unwrap_or_else(|r| panic!("accepted but the Mongo sink refuses it ({r}): {body}"));
        documents.push(document);
        accepted += 1;
    }
    // In the sink's batches; repeated ids are stored once, as in Postgres.
    let mut stored = 0;
    for batch in documents.chunks(500) {
        let written = sink_mongo::write(&mongo, batch)
            .await
            .unwrap_or_else(|e| panic!("accepted but MongoDB refuses a batch: {e:#}"));
        assert!(written.refused.is_empty(), "{:?}", written.refused);
        stored += written.inserted;
    }
    assert_eq!(stored, ids.len() as u64);
    eprintln!("accepted {accepted}, refused by field: {refused:?}");
    // The generator must exercise both sides, and many boundaries.
    assert!(accepted > 300, "only {accepted} accepted");
    assert!(
        refused.len() >= 12,
        "refusals by too few fields: {refused:?}"
    );

    let rows: i64 = client
        .query_one(&format!("SELECT count(*) FROM {schema}.transactions"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows as u64, ids.len() as u64);
    let counted: Vec<u64> = redis::cmd("HVALS")
        .arg(&keys[1])
        .query_async(&mut rconn)
        .await
        .unwrap();
    assert_eq!(counted.iter().sum::<u64>(), accepted);

    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut rconn)
        .await
        .unwrap();
    // noida-db has no dropDatabase: empty the collection.
    mongo
        .db
        .run_command(mongodb::bson::doc! {
            "delete": sink_mongo::COLLECTION, "deletes": [{"q": {}, "limit": 0}]
        })
        .await
        .unwrap();
}

/// The script checks before it writes: a batch with one message that would overflow a
/// store's revenue writes nothing and names that message; redelivered offsets count once.
#[tokio::test]
async fn the_redis_script_writes_all_or_nothing_and_once() {
    let redis = redis::Client::open(bench_var("KAPTURE_TEST_REDIS").as_str()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let prefix = format!("{}:", unique("script"));
    let keys = script_keys(&Names::new("", &prefix));
    let script = redis::Script::new(AGGREGATE_SCRIPT);
    let entry = |stream: &str, offset: i64, store: u64, cents: u64| Entry {
        stream: stream.into(),
        offset,
        state: "CA".into(),
        store,
        cents,
    };
    let hgetall = |key: String| {
        let redis = redis.clone();
        async move {
            let mut c = redis.get_multiplexed_async_connection().await.unwrap();
            let m: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(&mut c)
                .await
                .unwrap();
            m
        }
    };

    let (a, b) = (entry("t.ca/0<1", 10, 1, 500), entry("t.ca/0<1", 11, 2, 700));
    assert_eq!(
        run_script(&mut conn, &script, &keys, &[&a, &b])
            .await
            .unwrap(),
        Outcome::Applied(2)
    );
    // Redelivered, and one earlier offset of the same stream: nothing new.
    let old = entry("t.ca/0<1", 9, 1, 5);
    assert_eq!(
        run_script(&mut conn, &script, &keys, &[&a, &old, &b])
            .await
            .unwrap(),
        Outcome::Applied(0)
    );
    // Another stream is independent.
    let other = entry("t.ca/1<1", 10, 1, 1);
    assert_eq!(
        run_script(&mut conn, &script, &keys, &[&other])
            .await
            .unwrap(),
        Outcome::Applied(1)
    );
    assert_eq!(hgetall(keys[3].clone()).await["1"], "501");

    // Store 3 close to the limit: the second of three entries would pass it.
    let _: () = redis::cmd("HSET")
        .arg(&keys[3])
        .arg("3")
        .arg(8_999_999_999_000_000_000u64)
        .query_async(&mut conn)
        .await
        .unwrap();
    let before = (
        hgetall(keys[1].clone()).await,
        hgetall(keys[3].clone()).await,
        hgetall(keys[0].clone()).await,
    );
    let batch = [
        entry("t.ca/0<1", 12, 2, 1),
        entry("t.ca/0<1", 13, 3, 10_000_000_000),
        entry("t.ca/0<1", 14, 1, 1),
    ];
    let view: Vec<&Entry> = batch.iter().collect();
    assert_eq!(
        run_script(&mut conn, &script, &keys, &view).await.unwrap(),
        Outcome::Refused(vec![1])
    );
    let after = (
        hgetall(keys[1].clone()).await,
        hgetall(keys[3].clone()).await,
        hgetall(keys[0].clone()).await,
    );
    assert_eq!(before, after, "a refused batch writes nothing");
    // Without the refused entry the rest goes in, and the stream moves past it.
    assert_eq!(
        run_script(&mut conn, &script, &keys, &[&batch[0], &batch[2]])
            .await
            .unwrap(),
        Outcome::Applied(2)
    );
    assert_eq!(hgetall(keys[0].clone()).await["t.ca/0<1"], "14");

    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
}
