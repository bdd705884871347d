//! The one list of Kapture's components. Pure.
//!
//! A component is one part of a deployment: one manifest template (`manifests/NN-<name>.yaml`),
//! the `app.kubernetes.io/component=<name>` label on everything it renders, and (but for the
//! topic Job) pods that chaos may disrupt. Adding one means adding a variant and its row in
//! [`Component::facts`]; the compiler asks for every fact, and the tests in `manifests` for
//! its template.
use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Zookeeper,
    KafkaController,
    KafkaBroker,
    KafkaTopics,
    Redis,
    Postgres,
    Mongo,
    OrderService,
    Router,
    SinkPostgres,
    SinkRedis,
    SinkMongo,
    Loadgen,
}

/// The kind of object that runs a component's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    StatefulSet,
    Deployment,
    Job,
}

impl Workload {
    pub fn kind(self) -> &'static str {
        match self {
            Workload::StatefulSet => "StatefulSet",
            Workload::Deployment => "Deployment",
            Workload::Job => "Job",
        }
    }
}

/// Everything a component is, in one row.
struct Facts {
    name: &'static str,
    workload: Workload,
    /// One of the parts of the Kafka cluster, which are deployed together.
    kafka: bool,
    /// Runs `kapture-worker <name>` and serves the workload's metrics.
    worker_role: bool,
    /// Reads Kafka in a consumer group, so it reports a consumer lag.
    consumes_kafka: bool,
    /// Deployed when `--components` is not given (or names `default`).
    default: bool,
}

impl Component {
    /// Every component, in apply order (the order of the template files).
    pub const ALL: [Component; 13] = [
        Component::Zookeeper,
        Component::KafkaController,
        Component::KafkaBroker,
        Component::KafkaTopics,
        Component::Redis,
        Component::Postgres,
        Component::Mongo,
        Component::OrderService,
        Component::Router,
        Component::SinkPostgres,
        Component::SinkRedis,
        Component::SinkMongo,
        Component::Loadgen,
    ];

    const fn facts(self) -> Facts {
        use Workload::{Deployment, Job, StatefulSet};
        // (name, workload, part of Kafka, worker role, consumes Kafka)
        let (name, workload, kafka, worker_role, consumes_kafka) = match self {
            Component::Zookeeper => ("zookeeper", StatefulSet, true, false, false),
            Component::KafkaController => ("kafka-controller", StatefulSet, true, false, false),
            Component::KafkaBroker => ("kafka-broker", StatefulSet, true, false, false),
            Component::KafkaTopics => ("kafka-topics", Job, true, false, false),
            Component::Redis => ("redis", StatefulSet, false, false, false),
            Component::Postgres => ("postgres", StatefulSet, false, false, false),
            Component::Mongo => ("mongo", StatefulSet, false, false, false),
            Component::OrderService => ("order-service", Deployment, false, true, false),
            Component::Router => ("router", Deployment, false, true, true),
            Component::SinkPostgres => ("sink-postgres", Deployment, false, true, true),
            Component::SinkRedis => ("sink-redis", Deployment, false, true, true),
            Component::SinkMongo => ("sink-mongo", Deployment, false, true, true),
            Component::Loadgen => ("loadgen", Deployment, false, true, false),
        };
        Facts {
            name,
            workload,
            kafka,
            worker_role,
            consumes_kafka,
            // Mongo is opt-in: a second store doubles the stateful footprint and the first
            // image pull (the official image is the largest Kapture uses), and Postgres
            // already carries the integrity verdict. docs/manifests.md, "MongoDB".
            default: !matches!(self, Component::Mongo | Component::SinkMongo),
        }
    }

    /// The label value, template name and worker role name.
    pub const fn name(self) -> &'static str {
        self.facts().name
    }

    /// What is deployed when `--components` is not given, in apply order.
    pub fn default_set() -> Vec<Component> {
        Component::ALL
            .into_iter()
            .filter(|c| c.in_default_set())
            .collect()
    }

    /// Deployed unless `--components` leaves it out; the others are opt-in.
    pub const fn in_default_set(self) -> bool {
        self.facts().default
    }

    pub fn from_name(name: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.name() == name)
    }

    pub const fn workload(self) -> Workload {
        self.facts().workload
    }

    /// One of the parts of the Kafka cluster (ZooKeeper or controllers, brokers, topic Job).
    pub const fn is_kafka(self) -> bool {
        self.facts().kafka
    }

    /// A `kapture-worker` role: its pods run `kapture-worker <name>` and serve `/metrics`.
    pub const fn is_worker_role(self) -> bool {
        self.facts().worker_role
    }

    /// Consumes Kafka in a consumer group and reports its lag.
    pub const fn consumes_kafka(self) -> bool {
        self.facts().consumes_kafka
    }

    /// Whether its pods come back when removed (everything but the topic Job).
    pub const fn is_long_running(self) -> bool {
        !matches!(self.workload(), Workload::Job)
    }

    /// The name of its StatefulSet or Deployment; StatefulSet pods are `<this>-<ordinal>`.
    /// (The topic Job's name adds the topic parameters.)
    pub fn object_name(self) -> String {
        format!("kapture-{}", self.name())
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Component {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_read_back() {
        for c in Component::ALL {
            assert_eq!(Component::from_name(c.name()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        assert_eq!(Component::from_name("kafka"), None);
    }

    #[test]
    fn consumers_are_worker_roles() {
        for c in Component::ALL.into_iter().filter(|c| c.consumes_kafka()) {
            assert!(c.is_worker_role(), "{c}");
        }
        assert_eq!(Component::KafkaBroker.object_name(), "kapture-kafka-broker");
    }

    #[test]
    fn mongo_and_its_sink_are_opt_in() {
        let default = Component::default_set();
        assert_eq!(default.len(), Component::ALL.len() - 2);
        assert!(!default.contains(&Component::Mongo));
        assert!(!default.contains(&Component::SinkMongo));
    }
}
