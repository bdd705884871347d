//! The MongoDB sink's writes against the test bench's server (KAPTURE_TEST_MONGO_URL: noida-db
//! speaking MongoDB's wire protocol, on 127.0.0.1). Each test uses a database of its own.
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mongodb::bson::doc;

use kapture_worker::cli::MongoArgs;
use kapture_worker::model::{Generator, GeneratorConfig};
use kapture_worker::sink_mongo::{document, write, Mongo};
use kapture_worker::transaction::state_topic;
use kapture_worker::verify_run::mongo_docs;

fn bench_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("{name} is not set: start the test bench (scripts/testbench/start.sh) and source its env file"),
    }
}

/// A database of the test's own, emptied when dropped (noida-db has no dropDatabase; emptying
/// the collection works on both servers).
struct TestDb {
    mongo: Mongo,
}

impl TestDb {
    async fn new(tag: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let args = MongoArgs {
            mongo_user: None,
            mongo_password: None,
            mongo_db: format!("t_{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000),
            mongo_timeout: Duration::from_secs(20),
        };
        let mongo = Mongo::connect(&bench_var("KAPTURE_TEST_MONGO_URL"), &args)
            .await
            .expect("connecting to the bench's MongoDB");
        TestDb { mongo }
    }

    async fn empty(&self) {
        self.mongo
            .db
            .run_command(doc! {"delete": "transactions", "deletes": [{"q": {}, "limit": 0}]})
            .await
            .expect("emptying the test's collection");
    }
}

/// `n` generated transactions as the sink makes them into documents.
fn documents(seed: u64, n: usize) -> Vec<mongodb::bson::Document> {
    let mut g = Generator::new(GeneratorConfig {
        seed,
        stores: 30,
        customers: 300,
        ..Default::default()
    });
    (0..n)
        .map(|_| {
            let t = g.next_transaction();
            let payload = serde_json::to_vec(&t).unwrap();
            document(&state_topic(&t.store.location.state), Some(&payload)).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_a_batch_twice_stores_each_document_once() {
    let db = TestDb::new("twice").await;
    let mut batch = documents(11, 300);
    // The router may have written one transaction twice: both copies in one batch.
    batch.push(batch[7].clone());

    let first = write(&db.mongo, &batch).await.unwrap();
    assert_eq!((first.inserted, first.refused.len()), (300, 0));
    // Redelivered whole (a sink killed before its commit): nothing new.
    let again = write(&db.mongo, &batch).await.unwrap();
    assert_eq!((again.inserted, again.refused.len()), (0, 0));
    // Half redelivered, half new.
    let mut mixed = batch[150..300].to_vec();
    mixed.extend(documents(12, 100));
    let third = write(&db.mongo, &mixed).await.unwrap();
    assert_eq!(third.inserted, 100);

    let stored = mongo_docs(&db.mongo).await.unwrap();
    let ids: HashSet<&str> = stored.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(stored.len(), 400, "each document once");
    assert_eq!(ids.len(), 400);
    // The document reads back as written: Int64s, a BSON date, the state.
    let found = db
        .mongo
        .collection()
        .find_one(doc! {"_id": batch[0].get_str("_id").unwrap()})
        .await
        .unwrap()
        .expect("the first document");
    assert_eq!(found, batch[0]);
    assert_eq!(
        stored
            .iter()
            .find(|d| d.id == batch[0].get_str("_id").unwrap())
            .unwrap()
            .state,
        batch[0].get_str("state").unwrap()
    );
    db.empty().await;
}
