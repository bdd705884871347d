//! `kapture-worker` command line: every flag has an environment variable (see `kapture::contract::env`).
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::names::Names;
use kapture::contract::{self, env};
use kapture::output::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "kapture-worker",
    version,
    about = "The Kapture workload: load generator, order service, router, sinks and verifier",
    after_help = "Every flag can also be set through the environment variable shown with it."
)]
pub struct WorkerCli {
    /// Log filter (tracing EnvFilter syntax), logs go to stderr.
    #[arg(long, global = true, env = env::LOG, default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub role: Role,
}

#[derive(Debug, Subcommand)]
pub enum Role {
    /// Generate transactions and send them to the order service (or straight to Kafka).
    Loadgen(LoadgenArgs),
    /// HTTP API that validates transactions and produces them to Kafka.
    OrderService(OrderServiceArgs),
    /// Consume `transactions` and route each one to its per-state topic.
    Router(RouterArgs),
    /// Write the per-state topics into a Postgres table keyed by transaction id.
    SinkPostgres(SinkPostgresArgs),
    /// Keep per-state and per-store aggregates in Redis (idempotent under redelivery).
    SinkRedis(SinkRedisArgs),
    /// Write the per-state topics into a MongoDB collection, one document per transaction id.
    SinkMongo(SinkMongoArgs),
    /// Compare acknowledged transactions with Postgres, Redis, MongoDB and the per-state topics.
    Verify(VerifyArgs),
    /// Create every topic of the flow (transactions, one per state, dead letters), retrying
    /// until Kafka answers (the deploy's topic Job; no other role creates topics).
    CreateTopics(CreateTopicsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CreateTopicsArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Partitions of each topic created.
    #[arg(long, env = env::PARTITIONS, default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,
    /// Replication factor of each topic created.
    #[arg(long, env = env::REPLICATION_FACTOR, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub replication_factor: i32,
    /// A topic config of the new topics, KEY=VALUE (repeatable), e.g. min.insync.replicas=2.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub configs: Vec<(String, String)>,
    /// Give up when Kafka has not answered for this long.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers (host:port[,host:port]).
    #[arg(long, env = env::KAFKA_BOOTSTRAP, default_value = "kapture-kafka:9092")]
    pub kafka_bootstrap: String,
    /// Prefix of every topic and consumer group name (isolates flows sharing a broker).
    #[arg(long, env = env::TOPIC_PREFIX, default_value = "")]
    pub topic_prefix: String,
}

#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// Redis URL.
    #[arg(long, env = env::REDIS_URL, default_value = "redis://kapture-redis:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key.
    #[arg(long, env = env::REDIS_PREFIX, default_value = "kapture:")]
    pub redis_prefix: String,
}

#[derive(Debug, Clone, Args)]
pub struct PostgresArgs {
    #[arg(long, env = env::POSTGRES_HOST, default_value = "kapture-postgres")]
    pub postgres_host: String,
    #[arg(long, env = env::POSTGRES_PORT, default_value_t = 5432)]
    pub postgres_port: u16,
    #[arg(long, env = env::POSTGRES_USER, default_value = "kapture")]
    pub postgres_user: String,
    /// Password (prefer the environment variable: flags show up in process lists).
    #[arg(long, env = env::POSTGRES_PASSWORD, hide_env_values = true)]
    pub postgres_password: Option<String>,
    #[arg(long, env = env::POSTGRES_DB, default_value = "kapture")]
    pub postgres_db: String,
    /// Schema holding the `transactions` table (created if missing).
    #[arg(long, env = env::POSTGRES_SCHEMA, default_value = "public", value_parser = parse_schema)]
    pub postgres_schema: String,
    /// Longest wait for a connection, and for each statement, before it counts as failed
    /// (and is retried on a fresh connection).
    #[arg(long, env = env::POSTGRES_TIMEOUT, default_value = "30s", value_parser = humantime::parse_duration)]
    pub postgres_timeout: Duration,
}

/// How to reach MongoDB, its URL aside (the sink has a default, verify reads Mongo only when
/// one is given).
#[derive(Debug, Clone, Args)]
pub struct MongoArgs {
    /// User to authenticate as (SCRAM, `authSource=admin`); none: no authentication.
    #[arg(long, env = env::MONGO_USER, requires = "mongo_password")]
    pub mongo_user: Option<String>,
    /// Password of --mongo-user (prefer the environment variable: flags show up in process
    /// lists).
    #[arg(long, env = env::MONGO_PASSWORD, hide_env_values = true, requires = "mongo_user")]
    pub mongo_password: Option<String>,
    /// Database holding the `transactions` collection.
    #[arg(long, env = env::MONGO_DB, default_value = "kapture", value_parser = parse_mongo_db)]
    pub mongo_db: String,
    /// Longest wait for a connection and server selection, and for each read and write, before
    /// it counts as failed (and is retried on a fresh client).
    #[arg(long, env = env::MONGO_TIMEOUT, default_value = "30s", value_parser = humantime::parse_duration)]
    pub mongo_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Address of the /metrics, /healthz and /readyz listener.
    #[arg(long, env = env::METRICS_LISTEN, default_value = "0.0.0.0:9090")]
    pub metrics_listen: SocketAddr,
    /// /healthz fails (the kubelet restarts the role) once one operation, such as a batch
    /// write to a database that stopped answering, has run this long.
    #[arg(long, env = env::LIVENESS_TIMEOUT, default_value = "90s", value_parser = humantime::parse_duration)]
    pub liveness_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ConsumerArgs {
    /// Consumer group id (the topic prefix is prepended); default `kapture-<role>`, which
    /// `verify --settle` also reads the progress of.
    #[arg(long, env = env::GROUP_ID)]
    pub group_id: Option<String>,
    /// Static group membership id (e.g. the pod name): a restarted consumer with the same id
    /// gets its partitions back at once instead of waiting for the dead member to expire.
    #[arg(long, env = env::GROUP_INSTANCE_ID)]
    pub group_instance_id: Option<String>,
    /// Largest batch processed (and committed) at once.
    #[arg(long, env = env::BATCH_SIZE, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
}

#[derive(Debug, Clone, Args)]
pub struct LoadgenArgs {
    /// Order service base URL.
    #[arg(long, env = env::ORDER_SERVICE_URL, default_value = "http://kapture-order-service:8080")]
    pub order_service_url: String,
    /// Produce straight to Kafka instead of calling the order service.
    #[arg(long, env = env::DIRECT)]
    pub direct: bool,
    /// Requests in flight at once (HTTP mode).
    #[arg(long, env = env::CONCURRENCY, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: u64,
    /// Transactions per second (0 = as fast as possible).
    #[arg(long, env = env::RATE, default_value_t = 100.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Stop after this long (e.g. 30s, 5m).
    #[arg(long, env = env::DURATION, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many transactions.
    #[arg(long, env = env::COUNT)]
    pub count: Option<u64>,
    /// Generator seed (same seed, same transactions). Default: a random one, logged, so that
    /// replicas and restarted pods never repeat each other's transaction ids.
    #[arg(long, env = env::SEED)]
    pub seed: Option<u64>,
    /// Number of stores in the generated world.
    #[arg(long, env = env::STORES, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub stores: u64,
    /// Number of customers in the generated world.
    #[arg(long, env = env::CUSTOMERS, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub customers: u64,
    /// Append acknowledged transaction ids to this file, one per line.
    #[arg(long, env = env::ACK_FILE)]
    pub ack_file: Option<PathBuf>,
    /// Add acknowledged ids to the Redis set `<redis-prefix>acked`.
    #[arg(long, env = env::ACK_REDIS)]
    pub ack_redis: bool,
    /// Write the payloads (one JSON per line) to this file and send nothing (for kcat -l).
    #[arg(long, env = env::DUMP, conflicts_with_all = ["direct", "ack_file", "ack_redis"])]
    pub dump: Option<PathBuf>,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct OrderServiceArgs {
    /// Address of the HTTP API.
    #[arg(long, env = env::LISTEN, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Largest request body accepted (bytes); larger ones get 413.
    #[arg(long, env = env::MAX_BODY, default_value_t = 64 * 1024)]
    pub max_body: usize,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RouterArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SinkPostgresArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SinkRedisArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SinkMongoArgs {
    /// MongoDB URL, without credentials (see --mongo-user). A single host without
    /// `replicaSet=` is connected to directly, as mongosh does.
    #[arg(long, env = env::MONGO_URL, default_value = contract::OWN_MONGO_URL, value_parser = parse_mongo_url)]
    pub mongo_url: String,
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Read acknowledged ids from this file (written by `loadgen --ack-file`).
    #[arg(long, env = env::ACK_FILE, required_unless_present = "ack_redis")]
    pub ack_file: Option<PathBuf>,
    /// Read acknowledged ids from the Redis set `<redis-prefix>acked`.
    #[arg(long, env = env::ACK_REDIS, conflicts_with = "ack_file")]
    pub ack_redis: bool,
    /// Do not compare the Redis sink's aggregates.
    #[arg(long)]
    pub no_redis: bool,
    /// Also count the messages in the per-state topics (needs the Kafka bootstrap).
    #[arg(long)]
    pub topics: bool,
    /// Look again every 2 s for up to this long while the verdict is not OK and the sinks
    /// still make progress: the flow drains after the load stops (0: look once).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub settle: std::time::Duration,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
    /// Also compare the MongoDB sink's collection (its URL, without credentials).
    #[arg(long, env = env::MONGO_URL, value_parser = parse_mongo_url)]
    pub mongo_url: Option<String>,
    #[command(flatten)]
    pub mongo: MongoArgs,
}

impl KafkaArgs {
    pub fn names(&self, redis_prefix: &str) -> Names {
        Names::new(&self.topic_prefix, redis_prefix)
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if r.is_finite() && r >= 0.0 {
        Ok(r)
    } else {
        Err("rate must be a finite number >= 0".into())
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn parse_schema(s: &str) -> Result<String, String> {
    if super::names::valid_schema(s) {
        Ok(s.to_owned())
    } else {
        Err("schema must be a lower-case identifier ([a-z_][a-z0-9_]*)".into())
    }
}

/// A `mongodb://` URL without credentials (kapture::contract::check_mongo_url).
fn parse_mongo_url(s: &str) -> Result<String, String> {
    contract::check_mongo_url(
        s,
        "use --mongo-user and --mongo-password (KAPTURE_MONGO_USER, KAPTURE_MONGO_PASSWORD)",
    )?;
    Ok(s.to_owned())
}

/// MongoDB's rules for database names: 1 to 63 bytes, none of `/\. "$` or NUL.
fn parse_mongo_db(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 63 || s.contains(['/', '\\', '.', ' ', '"', '$', '\0']) {
        Err("database name must be 1 to 63 bytes without / \\ . space \" $ or NUL".into())
    } else {
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use kapture::component::Component;

    #[test]
    fn grammar_is_consistent() {
        WorkerCli::command().debug_assert();
    }

    #[test]
    fn every_worker_role_is_a_subcommand() {
        let cli = WorkerCli::command();
        for role in Component::ALL.into_iter().filter(|c| c.is_worker_role()) {
            assert!(cli.find_subcommand(role.name()).is_some(), "{role}");
        }
    }

    #[test]
    fn loadgen_flags_parse() {
        let cli = WorkerCli::try_parse_from([
            "kapture-worker",
            "loadgen",
            "--direct",
            "--rate",
            "0",
            "--count",
            "10",
            "--duration",
            "5s",
            "--seed",
            "7",
            "--ack-file",
            "/tmp/a",
            "--topic-prefix",
            "t.",
        ])
        .unwrap();
        let Role::Loadgen(a) = cli.role else {
            panic!("not loadgen")
        };
        assert!(a.direct);
        assert_eq!((a.rate, a.count, a.seed), (0.0, Some(10), Some(7)));
        assert_eq!(a.duration, Some(Duration::from_secs(5)));
        assert_eq!(a.kafka.topic_prefix, "t.");
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            vec!["kapture-worker", "loadgen", "--rate", "-1"],
            vec!["kapture-worker", "loadgen", "--dump", "/tmp/x", "--direct"],
            vec!["kapture-worker", "router", "--partitions", "0"],
            vec![
                "kapture-worker",
                "sink-postgres",
                "--postgres-schema",
                "a;b",
            ],
            vec!["kapture-worker", "verify"],
            vec!["kapture-worker", "sink-mongo", "--mongo-user", "u"],
            vec!["kapture-worker", "sink-mongo", "--mongo-password", "p"],
            vec!["kapture-worker", "sink-mongo", "--mongo-db", "a.b"],
        ] {
            assert!(
                WorkerCli::try_parse_from(&args).is_err(),
                "{args:?} should fail"
            );
        }
    }

    #[test]
    fn mongo_flags_parse_and_verify_reads_mongo_only_when_given_a_url() {
        let cli = WorkerCli::try_parse_from([
            "kapture-worker",
            "sink-mongo",
            "--mongo-url",
            "mongodb://127.0.0.1:27017/?replicaSet=rs0",
            "--mongo-user",
            "kapture",
            "--mongo-password",
            "secret",
            "--mongo-timeout",
            "5s",
        ])
        .unwrap();
        let Role::SinkMongo(a) = cli.role else {
            panic!("not sink-mongo")
        };
        assert_eq!(a.mongo.mongo_db, "kapture");
        assert_eq!(a.mongo.mongo_timeout, Duration::from_secs(5));
        assert_eq!(a.mongo.mongo_user.as_deref(), Some("kapture"));
        let cli = WorkerCli::try_parse_from(["kapture-worker", "verify", "--ack-redis"]).unwrap();
        let Role::Verify(v) = cli.role else {
            panic!("not verify")
        };
        assert_eq!(v.mongo_url, None);
    }

    #[test]
    fn mongo_urls_and_databases_are_checked() {
        assert!(parse_mongo_url("mongodb://kapture-mongo:27017").is_ok());
        let err = parse_mongo_url("mongodb://u:p@h:1").unwrap_err();
        assert!(err.contains("--mongo-user"), "{err}");
        assert!(parse_mongo_db("kapture").is_ok());
        for bad in ["", "a.b", "a b", "a$b", "a/b", &"x".repeat(64)] {
            assert!(parse_mongo_db(bad).is_err(), "{bad:?}");
        }
    }
}
