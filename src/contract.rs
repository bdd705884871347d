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

/// Where the sink finds Kapture's own MongoDB (35-mongo's Service).
pub const OWN_MONGO_URL: &str = "mongodb://kapture-mongo:27017";

/// Checks a MongoDB URL given to the plugin or the worker: `mongodb://` with at least one host
/// and no credentials, which belong to a Secret (`credentials_go_to` says where), not to a value
/// that is logged, rendered into manifests and shown in process lists.
pub fn check_mongo_url(url: &str, credentials_go_to: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("mongodb://") else {
        return Err(if url.starts_with("mongodb+srv://") {
            "mongodb+srv:// needs DNS SRV lookups, which the worker leaves out: give the hosts as mongodb://host:port[,host:port]".into()
        } else {
            "must start with mongodb://".into()
        });
    };
    let hosts = rest.split(['/', '?']).next().unwrap_or_default();
    if hosts.contains('@') {
        return Err(format!("must not carry credentials: {credentials_go_to}"));
    }
    if hosts.is_empty() {
        return Err("names no host".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongo_urls_carry_no_credentials() {
        let check = |url| check_mongo_url(url, "use the Secret");
        assert!(check(OWN_MONGO_URL).is_ok());
        assert!(check("mongodb://a:1,b:2/?replicaSet=rs0").is_ok());
        // An @ after the host list (in an option value) is not a credential.
        assert!(check("mongodb://h:1/?appName=a@b").is_ok());
        for (bad, why) in [
            ("mongodb://user:pw@h:27017", "credentials: use the Secret"),
            ("mongodb://user@h:27017/db", "credentials"),
            ("mongodb+srv://cluster.example", "SRV"),
            ("http://h:27017", "mongodb://"),
            ("mongodb:///db", "no host"),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
