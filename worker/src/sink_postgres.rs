//! Postgres sink: per-state topics -> table `<schema>.transactions` keyed by transaction id.
//! A batch is inserted in one database transaction (ON CONFLICT DO NOTHING makes redelivery
//! harmless), and Kafka offsets are committed only after the database commit.
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::message::{Message, OwnedMessage};
use tokio_postgres::NoTls;

use kapture::component::Component;

use super::cli::{PostgresArgs, SinkPostgresArgs};
use super::consume::{commit_or_warn, next_batch};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::shutdown::Shutdown;
use super::transaction::Transaction;

pub fn create_sql(schema: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.transactions (
           id text PRIMARY KEY,
           state text NOT NULL,
           store_id bigint NOT NULL,
           customer_id bigint NOT NULL,
           total_cents bigint NOT NULL,
           item_count integer NOT NULL,
           purchased_at timestamptz NOT NULL,
           source_topic text NOT NULL,
           inserted_at timestamptz NOT NULL DEFAULT now()
         );"
    )
}

/// One statement per batch: column arrays unnested into rows.
pub fn insert_sql(schema: &str) -> String {
    format!(
        "INSERT INTO {schema}.transactions
           (id, state, store_id, customer_id, total_cents, item_count, purchased_at, source_topic)
         SELECT id, st, store, cust, total, items, ts::timestamptz, topic
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int4[], $7::text[], $8::text[])
           AS u(id, st, store, cust, total, items, ts, topic)
         ON CONFLICT (id) DO NOTHING"
    )
}

/// A batch in column form, ready to bind to [`insert_sql`].
#[derive(Debug, Default, PartialEq)]
pub struct Columns {
    pub id: Vec<String>,
    pub state: Vec<String>,
    pub store: Vec<i64>,
    pub customer: Vec<i64>,
    pub total: Vec<i64>,
    pub items: Vec<i32>,
    pub time: Vec<String>,
    pub topic: Vec<String>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// Adds a message; the error names why it cannot be stored.
    pub fn push(&mut self, topic: &str, payload: Option<&[u8]>) -> Result<(), String> {
        let t: Transaction = serde_json::from_slice(payload.ok_or("empty message")?)
            .map_err(|e| format!("not a transaction: {e}"))?;
        let big =
            |v: u64, what: &str| i64::try_from(v).map_err(|_| format!("{what} {v} out of range"));
        let (store, customer, total) = (
            big(t.store.id, "store id")?,
            big(t.customer.id, "customer id")?,
            big(t.total_cents, "total")?,
        );
        if t.time.parse::<jiff::Timestamp>().is_err() {
            return Err(format!("time {:?} is not RFC 3339", t.time));
        }
        self.items
            .push(i32::try_from(t.items.len()).map_err(|_| "too many items")?);
        self.id.push(t.id);
        self.state.push(t.store.location.state.to_ascii_uppercase());
        self.store.push(store);
        self.customer.push(customer);
        self.total.push(total);
        self.time.push(t.time);
        self.topic.push(topic.to_owned());
        Ok(())
    }
}

pub async fn connect(pg: &PostgresArgs) -> Result<tokio_postgres::Client> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&pg.postgres_host)
        .port(pg.postgres_port)
        .user(&pg.postgres_user)
        .dbname(&pg.postgres_db);
    if let Some(pw) = &pg.postgres_password {
        cfg.password(pw);
    }
    cfg.application_name("kapture-worker");
    let (client, connection) = cfg.connect(NoTls).await.with_context(|| {
        format!(
            "connecting to Postgres {}:{} database {}",
            pg.postgres_host, pg.postgres_port, pg.postgres_db
        )
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "Postgres connection closed");
        }
    });
    Ok(client)
}

pub async fn run(args: SinkPostgresArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::SinkPostgres);
    metrics::serve(
        args.metrics.metrics_listen,
        metrics.clone(),
        shutdown.clone(),
    )
    .await?;
    let schema = &args.postgres.postgres_schema;
    let mut writer = Writer::open(&args.postgres).await?;

    let names = args.kafka.names("");
    let (consumer, group) = kafka_config::subscribed_consumer(
        &args.kafka.kafka_bootstrap,
        &names,
        &args.consumer,
        "kapture-sink-postgres",
        &names.state_topic_pattern(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, pattern = %names.state_topic_pattern(), table = %format!("{schema}.transactions"), "postgres sink up");

    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let cols = columns(&batch, &metrics);
        if !cols.is_empty() {
            let started = Instant::now();
            let inserted = writer
                .write_retrying(&args.postgres, &cols, &metrics)
                .await?;
            metrics.latency.observe(started.elapsed().as_secs_f64());
            metrics.produced.inc_by(inserted);
            if inserted < cols.len() as u64 {
                tracing::debug!(
                    redelivered = cols.len() as u64 - inserted,
                    "rows already present"
                );
            }
        }
        commit_or_warn(&consumer, &batch, &metrics);
    }
    tracing::info!("postgres sink stopped");
    Ok(())
}

/// Attempts per batch before the sink gives up (and exits without committing).
const ATTEMPTS: u32 = 5;

struct Writer {
    client: tokio_postgres::Client,
    insert: tokio_postgres::Statement,
}

impl Writer {
    async fn open(pg: &PostgresArgs) -> Result<Self> {
        let schema = &pg.postgres_schema;
        let client = connect(pg).await?;
        client
            .batch_execute(&create_sql(schema))
            .await
            .with_context(|| format!("creating {schema}.transactions"))?;
        let insert = client
            .prepare(&insert_sql(schema))
            .await
            .context("preparing the insert")?;
        Ok(Self { client, insert })
    }

    /// Inserts a batch in one transaction; returns the number of new rows.
    async fn write(&mut self, c: &Columns) -> Result<u64> {
        let tx = self
            .client
            .transaction()
            .await
            .context("starting a Postgres transaction")?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &c.id,
            &c.state,
            &c.store,
            &c.customer,
            &c.total,
            &c.items,
            &c.time,
            &c.topic,
        ];
        let inserted = tx
            .execute(&self.insert, &params)
            .await
            .context("inserting a batch")?;
        tx.commit().await.context("committing a batch")?;
        Ok(inserted)
    }

    /// The insert is idempotent, so a failed batch is retried on a fresh connection.
    async fn write_retrying(
        &mut self,
        pg: &PostgresArgs,
        c: &Columns,
        metrics: &Metrics,
    ) -> Result<u64> {
        let mut attempt = 1;
        loop {
            match self.write(c).await {
                Ok(n) => return Ok(n),
                Err(e) if attempt < ATTEMPTS => {
                    metrics.fail("postgres");
                    tracing::warn!(error = %format!("{e:#}"), attempt, "batch insert failed; retrying");
                    tokio::time::sleep(Duration::from_secs(attempt.into())).await;
                    if let Ok(fresh) = Self::open(pg).await {
                        *self = fresh;
                    }
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn columns(batch: &[OwnedMessage], metrics: &Metrics) -> Columns {
    let mut cols = Columns::default();
    for m in batch {
        if let Err(reason) = cols.push(m.topic(), m.payload()) {
            metrics.fail("invalid");
            tracing::warn!(topic = m.topic(), offset = m.offset(), %reason, "skipping message");
        }
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXN: &str = r#"{"id":"t1","time":"2026-01-02T03:04:05Z",
        "customer":{"id":9,"name":"A","location":{"zip":"1","city":"c","state":"MA"}},
        "store":{"id":4,"name":"S","location":{"zip":"1","city":"c","state":"ca"}},
        "items":[{"sku":"s","category":"c","brand":"b","description":"d","price_cents":5,"quantity":2}],
        "total_cents":10}"#;

    #[test]
    fn sql_names_the_schema() {
        assert!(create_sql("t_1").contains("CREATE TABLE IF NOT EXISTS t_1.transactions"));
        let ins = insert_sql("t_1");
        assert!(ins.contains("INSERT INTO t_1.transactions"));
        assert!(ins.contains("ON CONFLICT (id) DO NOTHING"));
        assert_eq!(ins.matches('$').count(), 8);
    }

    #[test]
    fn columns_take_the_store_state() {
        let mut c = Columns::default();
        c.push("transactions.ca", Some(TXN.as_bytes())).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (
                c.id[0].as_str(),
                c.state[0].as_str(),
                c.store[0],
                c.customer[0]
            ),
            ("t1", "CA", 4, 9)
        );
        assert_eq!(
            (c.total[0], c.items[0], c.topic[0].as_str()),
            (10, 1, "transactions.ca")
        );
    }

    #[test]
    fn bad_messages_are_refused() {
        let mut c = Columns::default();
        assert!(c.push("t", None).is_err());
        assert!(c
            .push("t", Some(b"{}"))
            .unwrap_err()
            .contains("not a transaction"));
        let bad_time = TXN.replace("2026-01-02T03:04:05Z", "soon");
        assert!(c
            .push("t", Some(bad_time.as_bytes()))
            .unwrap_err()
            .contains("RFC 3339"));
        let huge = TXN.replace("\"id\":4", &format!("\"id\":{}", u64::MAX));
        assert!(c
            .push("t", Some(huge.as_bytes()))
            .unwrap_err()
            .contains("out of range"));
        assert!(c.is_empty());
    }
}
