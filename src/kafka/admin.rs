//! Kafka admin I/O through librdkafka: cluster metadata, topic creation, partition growth.
//! Results are plain data ([`ClusterState`]) for the pure modules.
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::metadata::Metadata;
use rdkafka::ClientConfig;
use serde::Serialize;

use super::plan::{Assignment, BrokerId};
use crate::error::KaptureError;

const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerInfo {
    pub id: BrokerId,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionState {
    pub id: i32,
    /// -1 when the partition has no leader (offline).
    pub leader: BrokerId,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicState {
    pub name: String,
    pub partitions: Vec<PartitionState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterState {
    pub brokers: Vec<BrokerInfo>,
    pub topics: Vec<TopicState>,
}

impl ClusterState {
    pub fn topic(&self, name: &str) -> Result<&TopicState> {
        self.topics
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| KaptureError::NotFound(format!("topic {name:?} not found")).into())
    }

    pub fn broker_ids(&self) -> Vec<BrokerId> {
        let mut ids: Vec<_> = self.brokers.iter().map(|b| b.id).collect();
        ids.sort_unstable();
        ids
    }

    /// Replica lists of `topics` (all when None), partitions in id order.
    pub fn assignment(&self, topics: Option<&[String]>) -> Assignment {
        self.topics
            .iter()
            .filter(|t| topics.is_none_or(|names| names.contains(&t.name)))
            .map(|t| {
                let mut ps = t.partitions.clone();
                ps.sort_by_key(|p| p.id);
                (t.name.clone(), ps.into_iter().map(|p| p.replicas).collect())
            })
            .collect()
    }
}

fn from_metadata(metadata: &Metadata) -> ClusterState {
    let mut topics: Vec<TopicState> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| {
            let mut partitions: Vec<PartitionState> = t
                .partitions()
                .iter()
                .map(|p| PartitionState {
                    id: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            TopicState {
                name: t.name().to_string(),
                partitions,
            }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let mut brokers: Vec<BrokerInfo> = metadata
        .brokers()
        .iter()
        .map(|b| BrokerInfo {
            id: b.id(),
            host: b.host().to_string(),
            port: b.port(),
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    ClusterState { brokers, topics }
}

pub struct Admin {
    client: std::sync::Arc<AdminClient<DefaultClientContext>>,
    bootstrap: String,
}

impl Admin {
    /// A client for `bootstrap` (`host:port[,host:port]`). Does not connect yet.
    pub fn new(bootstrap: &str) -> Result<Self> {
        let client: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("client.id", "kubectl-kapture")
            .set("allow.auto.create.topics", "false")
            .create()
            .with_context(|| format!("cannot create a Kafka admin client for {bootstrap}"))?;
        Ok(Admin {
            client: std::sync::Arc::new(client),
            bootstrap: bootstrap.to_string(),
        })
    }

    /// Brokers, topics, partitions, replicas, leaders and in-sync replicas.
    pub async fn cluster(&self) -> Result<ClusterState> {
        let client = self.client.clone();
        let metadata =
            tokio::task::spawn_blocking(move || client.inner().fetch_metadata(None, TIMEOUT))
                .await?
                .with_context(|| format!("cannot read cluster metadata from {}", self.bootstrap))?;
        Ok(from_metadata(&metadata))
    }

    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<()> {
        let topic = NewTopic::new(
            name,
            partitions,
            TopicReplication::Fixed(replication_factor),
        );
        let results = self
            .client
            .create_topics(
                [&topic],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            )
            .await
            .with_context(|| format!("cannot create topic {name:?}"))?;
        for result in results {
            result.map_err(|(t, code)| anyhow!("cannot create topic {t:?}: {code}"))?;
        }
        Ok(())
    }

    /// Grows `topic` to `total` partitions; `replicas` holds one replica list per new
    /// partition (empty: the controller chooses).
    pub async fn create_partitions(
        &self,
        topic: &str,
        total: usize,
        replicas: &[Vec<BrokerId>],
    ) -> Result<()> {
        let slices: Vec<&[i32]> = replicas.iter().map(Vec::as_slice).collect();
        let mut request = NewPartitions::new(topic, total);
        if !slices.is_empty() {
            request = request.assign(&slices);
        }
        let results = self
            .client
            .create_partitions(
                [&request],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            )
            .await
            .with_context(|| format!("cannot add partitions to topic {topic:?}"))?;
        for result in results {
            result.map_err(|(t, code)| {
                anyhow!("cannot grow topic {t:?} to {total} partitions: {code}")
            })?;
        }
        Ok(())
    }
}
