//! What the plugin's manifests and the `kapture-worker` roles promise each other. Both packages
//! use these names, so a renamed variable breaks the build, not a deployment.
//!
//! The environment variables are the flags' equivalents; besides them:
//! - topic `transactions` (key: transaction id), per-state topics `transactions.<state>`;
//! - order service HTTP on 8080 (`POST /transactions`, `/healthz`, `/readyz`);
//! - every role serves `/metrics`, `/healthz`, `/readyz` on 9090 (the order service on 8080 too);
//! - in-cluster addresses: Kafka `kapture-kafka:9092`, Redis `kapture-redis:6379`,
//!   Postgres `kapture-postgres:5432` (user and database `kapture`, password from Secret
//!   `kapture-postgres` key `password`), MongoDB `kapture-mongo:27017` (database `kapture`,
//!   user and password from Secret `kapture-mongo` keys `username` and `password`, SCRAM against
//!   `authSource=admin`; the URL carries no credentials), order service
//!   `http://kapture-order-service:8080`.

/// Environment variables every role reads (clap `env = ...`), set by the manifests.
pub mod env {
    pub const KAFKA_BOOTSTRAP: &str = "KAPTURE_KAFKA_BOOTSTRAP";
    pub const REDIS_URL: &str = "KAPTURE_REDIS_URL";
    pub const POSTGRES_HOST: &str = "KAPTURE_POSTGRES_HOST";
    pub const POSTGRES_PORT: &str = "KAPTURE_POSTGRES_PORT";
    pub const POSTGRES_USER: &str = "KAPTURE_POSTGRES_USER";
    pub const POSTGRES_PASSWORD: &str = "KAPTURE_POSTGRES_PASSWORD";
    pub const POSTGRES_DB: &str = "KAPTURE_POSTGRES_DB";
    pub const MONGO_URL: &str = "KAPTURE_MONGO_URL";
    pub const MONGO_USER: &str = "KAPTURE_MONGO_USER";
    pub const MONGO_PASSWORD: &str = "KAPTURE_MONGO_PASSWORD";
    pub const MONGO_DB: &str = "KAPTURE_MONGO_DB";
    pub const MONGO_TIMEOUT: &str = "KAPTURE_MONGO_TIMEOUT";
    pub const ORDER_SERVICE_URL: &str = "KAPTURE_ORDER_SERVICE_URL";
    pub const LISTEN: &str = "KAPTURE_LISTEN";
    pub const METRICS_LISTEN: &str = "KAPTURE_METRICS_LISTEN";
    pub const LIVENESS_TIMEOUT: &str = "KAPTURE_LIVENESS_TIMEOUT";
    pub const POSTGRES_TIMEOUT: &str = "KAPTURE_POSTGRES_TIMEOUT";
    pub const RATE: &str = "KAPTURE_RATE";
    pub const SEED: &str = "KAPTURE_SEED";
    pub const PARTITIONS: &str = "KAPTURE_PARTITIONS";
    pub const REPLICATION_FACTOR: &str = "KAPTURE_REPLICATION_FACTOR";
    pub const POSTGRES_SCHEMA: &str = "KAPTURE_POSTGRES_SCHEMA";
    pub const TOPIC_PREFIX: &str = "KAPTURE_TOPIC_PREFIX";
    pub const REDIS_PREFIX: &str = "KAPTURE_REDIS_PREFIX";
    pub const GROUP_ID: &str = "KAPTURE_GROUP_ID";
    pub const GROUP_INSTANCE_ID: &str = "KAPTURE_GROUP_INSTANCE_ID";
    pub const BATCH_SIZE: &str = "KAPTURE_BATCH_SIZE";
    pub const CONCURRENCY: &str = "KAPTURE_CONCURRENCY";
    pub const DIRECT: &str = "KAPTURE_DIRECT";
    pub const DURATION: &str = "KAPTURE_DURATION";
    pub const COUNT: &str = "KAPTURE_COUNT";
    pub const STORES: &str = "KAPTURE_STORES";
    pub const CUSTOMERS: &str = "KAPTURE_CUSTOMERS";
    pub const ACK_FILE: &str = "KAPTURE_ACK_FILE";
    pub const ACK_REDIS: &str = "KAPTURE_ACK_REDIS";
    pub const DUMP: &str = "KAPTURE_DUMP";
    pub const MAX_BODY: &str = "KAPTURE_MAX_BODY";
    pub const LOG: &str = "KAPTURE_LOG";
    /// librdkafka `debug` contexts for every Kafka client (troubleshooting only).
    pub const KAFKA_DEBUG: &str = "KAPTURE_KAFKA_DEBUG";
}
