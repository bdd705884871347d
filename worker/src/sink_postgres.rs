//! Postgres sink: per-state topics -> table `<schema>.transactions` keyed by transaction id.
//! A batch is inserted in one database transaction (ON CONFLICT DO NOTHING makes redelivery
//! harmless), and Kafka offsets are committed only after the database commit.
//!
//! A message that breaks the validation rule, or that Postgres refuses as data (SQLSTATE
//! classes 22 and 23: the batch is then inserted row by row to find it), is dead-lettered;
//! anything else (connection lost, timeout) is retried on a fresh connection, then ends the
//! sink uncommitted. Every connect and statement is bounded by `--postgres-timeout`, and a
//! write that hangs longer than `--liveness-timeout` fails /healthz.
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use rdkafka::message::Message;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use kapture::component::Component;

use super::cli::{PostgresArgs, SinkPostgresArgs};
use super::consume::{commit_or_warn, next_batch};
use super::dead_letter::{split, DeadLetters, Letter};
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::retry::retrying;
use super::shutdown::Shutdown;
use super::validation::{parse_transaction, purchase_time, Rejection};

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

    /// Adds a message that passes the validation rule, which bounds every value to what
    /// the columns hold; the time goes in as its canonical UTC form.
    pub fn push(&mut self, topic: &str, payload: Option<&[u8]>) -> Result<(), Rejection> {
        let t = parse_transaction(payload.unwrap_or_default())?;
        let time = purchase_time(&t.time)?.to_string();
        let fits = |v: u64| i64::try_from(v).expect("validated ids and amounts fit i64");
        self.items
            .push(i32::try_from(t.items.len()).expect("validated item counts fit i32"));
        self.id.push(t.id);
        self.state.push(t.store.location.state);
        self.store.push(fits(t.store.id));
        self.customer.push(fits(t.customer.id));
        self.total.push(fits(t.total_cents));
        self.time.push(time);
        self.topic.push(topic.to_owned());
        Ok(())
    }

    /// The parameters of [`insert_sql`], in its order.
    pub fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 8] {
        [
            &self.id,
            &self.state,
            &self.store,
            &self.customer,
            &self.total,
            &self.items,
            &self.time,
            &self.topic,
        ]
    }

    /// Row `i` alone.
    pub fn row(&self, i: usize) -> Columns {
        Columns {
            id: vec![self.id[i].clone()],
            state: vec![self.state[i].clone()],
            store: vec![self.store[i]],
            customer: vec![self.customer[i]],
            total: vec![self.total[i]],
            items: vec![self.items[i]],
            time: vec![self.time[i].clone()],
            topic: vec![self.topic[i].clone()],
        }
    }
}

/// Why a write failed: Postgres refused the data itself (retrying cannot help; find the row
/// and dead-letter it), or anything else (retry).
#[derive(Debug)]
pub enum WriteError {
    Data(String),
    Other(anyhow::Error),
}

impl From<WriteError> for anyhow::Error {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Data(reason) => anyhow!(reason),
            WriteError::Other(e) => e,
        }
    }
}

/// SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
pub fn is_data_error(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("22") || c.starts_with("23")
}

fn classify(e: tokio_postgres::Error, what: &str) -> WriteError {
    match e.as_db_error() {
        Some(db) if is_data_error(db.code()) => WriteError::Data(format!(
            "postgres refused the row: {} ({})",
            db.message(),
            db.code().code()
        )),
        _ => WriteError::Other(anyhow::Error::new(e).context(what.to_owned())),
    }
}

pub async fn connect(pg: &PostgresArgs) -> Result<tokio_postgres::Client> {
    let mut cfg = tokio_postgres::Config::new();
    // The server cancels a statement after the timeout; the client's own bound (in
    // `bounded`) covers a server that stopped answering altogether.
    let timeout_ms = pg.postgres_timeout.as_millis();
    cfg.connect_timeout(pg.postgres_timeout)
        .options(format!("-c statement_timeout={timeout_ms}"))
        .host(&pg.postgres_host)
        .port(pg.postgres_port)
        .user(&pg.postgres_user)
        .dbname(&pg.postgres_db);
    if let Some(pw) = &pg.postgres_password {
        cfg.password(pw);
    }
    cfg.application_name("kapture-worker");
    let what = || {
        format!(
            "connecting to Postgres {}:{} database {}",
            pg.postgres_host, pg.postgres_port, pg.postgres_db
        )
    };
    // connect_timeout bounds the TCP connect; this bounds the handshake after it too.
    let (client, connection) = tokio::time::timeout(pg.postgres_timeout, cfg.connect(NoTls))
        .await
        .map_err(|_| anyhow!("no answer within {:?}", pg.postgres_timeout))
        .with_context(what)?
        .with_context(what)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "Postgres connection closed");
        }
    });
    Ok(client)
}

pub async fn run(args: SinkPostgresArgs, mut shutdown: Shutdown) -> Result<()> {
    let metrics = Metrics::new(Component::SinkPostgres);
    metrics::serve(&args.metrics, metrics.clone(), shutdown.clone()).await?;
    let schema = &args.postgres.postgres_schema;
    let mut writer = Writer::open(&args.postgres).await?;

    let names = args.kafka.names("");
    let dead_letters =
        DeadLetters::new(&args.kafka.kafka_bootstrap, &names, Component::SinkPostgres)?;
    let (consumer, group) = kafka_config::subscribed_consumer(
        &args.kafka.kafka_bootstrap,
        &names,
        &args.consumer,
        Component::SinkPostgres,
        &names.state_topic_pattern(),
        metrics.lag.clone(),
    )?;
    metrics.set_ready(true);
    tracing::info!(%group, pattern = %names.state_topic_pattern(), table = %format!("{schema}.transactions"), "postgres sink up");

    let max = args.consumer.batch_size as usize;
    while let Some(batch) = next_batch(&consumer, max, &metrics, &mut shutdown).await {
        let _busy = metrics.busy();
        let started = Instant::now();
        let mut cols = Columns::default();
        let (rows, mut letters) = split(&batch, |m| cols.push(m.topic(), m.payload()));
        if !cols.is_empty() {
            let inserted = match writer
                .write_retrying(&args.postgres, &cols, &metrics)
                .await?
            {
                Ok(n) => n,
                Err(reason) => {
                    tracing::warn!(%reason, "Postgres refused the batch; inserting it row by row");
                    let (n, refused) = writer.write_rows(&args.postgres, &cols, &metrics).await?;
                    letters.extend(refused.into_iter().map(|(i, reason)| Letter {
                        message: rows[i].0,
                        label: "postgres",
                        reason,
                    }));
                    n
                }
            };
            metrics.produced.inc_by(inserted);
            if inserted < cols.len() as u64 {
                tracing::debug!(
                    already_present = cols.len() as u64 - inserted,
                    "rows already present or dead-lettered"
                );
            }
        }
        dead_letters.send_all(&letters, &metrics).await?;
        metrics.latency.observe(started.elapsed().as_secs_f64());
        commit_or_warn(&consumer, &batch, &metrics);
    }
    tracing::info!("postgres sink stopped");
    Ok(())
}

struct Writer {
    client: tokio_postgres::Client,
    insert: tokio_postgres::Statement,
    timeout: Duration,
}

/// The client-side bound on one database round trip.
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, WriteError> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r.map_err(|e| classify(e, what)),
        Err(_) => Err(WriteError::Other(anyhow!(
            "{what}: Postgres did not answer within {timeout:?}"
        ))),
    }
}

impl Writer {
    async fn open(pg: &PostgresArgs) -> Result<Self> {
        let schema = &pg.postgres_schema;
        let client = connect(pg).await?;
        let timeout = pg.postgres_timeout;
        bounded(
            timeout,
            &format!("creating {schema}.transactions"),
            client.batch_execute(&create_sql(schema)),
        )
        .await?;
        let insert = bounded(
            timeout,
            "preparing the insert",
            client.prepare(&insert_sql(schema)),
        )
        .await?;
        Ok(Self {
            client,
            insert,
            timeout,
        })
    }

    /// Inserts rows in one transaction; returns the number of new rows.
    async fn write(&mut self, c: &Columns) -> Result<u64, WriteError> {
        let t = self.timeout;
        let tx = bounded(t, "starting a transaction", self.client.transaction()).await?;
        let params = c.params();
        let inserted = bounded(t, "inserting a batch", tx.execute(&self.insert, &params)).await?;
        bounded(t, "committing a batch", tx.commit()).await?;
        Ok(inserted)
    }

    /// The insert is idempotent, so a batch that failed for any reason but its data is
    /// retried on a fresh connection. Ok(Err(reason)): Postgres refused the data.
    async fn write_retrying(
        &mut self,
        pg: &PostgresArgs,
        c: &Columns,
        metrics: &Metrics,
    ) -> Result<Result<u64, String>> {
        retrying(
            self,
            metrics,
            "postgres",
            "batch insert",
            async |w: &mut Self| match w.write(c).await {
                Ok(n) => Ok(Ok(n)),
                Err(WriteError::Data(reason)) => Ok(Err(reason)),
                Err(WriteError::Other(e)) => Err(e),
            },
            async || Self::open(pg).await,
        )
        .await
    }

    /// Inserts row by row; returns the new rows and the (index, reason) of those Postgres
    /// refused as data.
    async fn write_rows(
        &mut self,
        pg: &PostgresArgs,
        c: &Columns,
        metrics: &Metrics,
    ) -> Result<(u64, Vec<(usize, String)>)> {
        let (mut inserted, mut refused) = (0, Vec::new());
        for i in 0..c.len() {
            match self.write_retrying(pg, &c.row(i), metrics).await? {
                Ok(n) => inserted += n,
                Err(reason) => refused.push((i, reason)),
            }
        }
        Ok((inserted, refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXN: &str = r#"{"id":"t1","time":"2026-01-02T03:04:05Z",
        "customer":{"id":9,"name":"A","location":{"zip":"02139","city":"c","state":"MA"}},
        "store":{"id":4,"name":"S","location":{"zip":"94103","city":"c","state":"CA"}},
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
    fn messages_breaking_the_rule_are_refused_by_field() {
        let mut c = Columns::default();
        assert_eq!(c.push("t", None).unwrap_err().field, "json");
        assert_eq!(c.push("t", Some(b"{}")).unwrap_err().field, "json");
        let bad_time = TXN.replace("2026-01-02T03:04:05Z", "0000-01-01T00:00:00Z");
        assert_eq!(
            c.push("t", Some(bad_time.as_bytes())).unwrap_err().field,
            "time"
        );
        let huge = TXN.replace("\"id\":4", &format!("\"id\":{}", (1u64 << 63) + 5));
        assert_eq!(
            c.push("t", Some(huge.as_bytes())).unwrap_err().field,
            "store.id"
        );
        assert!(c.is_empty());
    }

    #[test]
    fn times_are_stored_in_canonical_utc() {
        let mut c = Columns::default();
        let offset = TXN.replace("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.5+01:00");
        c.push("transactions.ca", Some(offset.as_bytes())).unwrap();
        assert_eq!(c.time[0], "2026-01-02T02:04:05.5Z");
        assert_eq!(c.row(0), c);
    }

    #[test]
    fn data_errors_are_classes_22_and_23() {
        assert!(is_data_error(&SqlState::DATETIME_FIELD_OVERFLOW));
        assert!(is_data_error(&SqlState::NUMERIC_VALUE_OUT_OF_RANGE));
        assert!(is_data_error(&SqlState::NOT_NULL_VIOLATION));
        assert!(!is_data_error(&SqlState::ADMIN_SHUTDOWN));
        assert!(!is_data_error(&SqlState::QUERY_CANCELED));
    }
}
