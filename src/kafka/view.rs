//! What `topics` and the plans show: rows built from plain data. Pure.
use std::collections::BTreeMap;

use serde::Serialize;

use super::admin::ClusterState;
use super::plan::{BrokerId, BrokerLoad, Plan};
use crate::output::Tabular;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicRow {
    pub name: String,
    pub partitions: usize,
    pub replication_factor: usize,
    pub replicas_per_broker: BTreeMap<BrokerId, usize>,
    pub leaders_per_broker: BTreeMap<BrokerId, usize>,
    /// Partitions whose in-sync replicas are fewer than their replicas.
    pub under_replicated: usize,
    /// Partitions without a live leader.
    pub offline: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicsView {
    pub brokers: Vec<BrokerId>,
    pub topics: Vec<TopicRow>,
}

/// One row per topic; names starting with `__` (Kafka's own) only when `internal`.
pub fn topics_view(cluster: &ClusterState, internal: bool) -> TopicsView {
    let brokers = cluster.broker_ids();
    let topics = cluster
        .topics
        .iter()
        .filter(|t| internal || !t.name.starts_with("__"))
        .map(|t| {
            let mut replicas_per_broker = BTreeMap::new();
            let mut leaders_per_broker = BTreeMap::new();
            for p in &t.partitions {
                for &b in &p.replicas {
                    *replicas_per_broker.entry(b).or_insert(0) += 1;
                }
                if p.leader >= 0 {
                    *leaders_per_broker.entry(p.leader).or_insert(0) += 1;
                }
            }
            TopicRow {
                name: t.name.clone(),
                partitions: t.partitions.len(),
                replication_factor: t
                    .partitions
                    .iter()
                    .map(|p| p.replicas.len())
                    .max()
                    .unwrap_or(0),
                replicas_per_broker,
                leaders_per_broker,
                under_replicated: t
                    .partitions
                    .iter()
                    .filter(|p| p.isr.len() < p.replicas.len())
                    .count(),
                offline: t
                    .partitions
                    .iter()
                    .filter(|p| p.leader < 0 || !brokers.contains(&p.leader))
                    .count(),
            }
        })
        .collect();
    TopicsView { brokers, topics }
}

fn per_broker(map: &BTreeMap<BrokerId, usize>) -> String {
    if map.is_empty() {
        return "-".to_string();
    }
    map.iter()
        .map(|(b, n)| format!("{b}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Tabular for TopicsView {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "TOPIC",
            "PARTITIONS",
            "RF",
            "REPLICAS (broker:count)",
            "LEADERS (broker:count)",
            "UNDER-REPLICATED",
            "OFFLINE",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.topics
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.partitions.to_string(),
                    t.replication_factor.to_string(),
                    per_broker(&t.replicas_per_broker),
                    per_broker(&t.leaders_per_broker),
                    t.under_replicated.to_string(),
                    t.offline.to_string(),
                ]
            })
            .collect()
    }
    fn footer(&self) -> Vec<String> {
        let unhealthy = self
            .topics
            .iter()
            .filter(|t| t.under_replicated + t.offline > 0)
            .count();
        vec![format!(
            "{} topic(s) on broker(s) {}; {unhealthy} with under-replicated or offline partitions",
            self.topics.len(),
            self.brokers
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )]
    }
}

/// A plan as shown before it runs (and by --dry-run).
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// What happens, in order, in words.
    pub steps: Vec<String>,
    pub replica_moves: usize,
    pub leader_changes: usize,
    pub new_partitions: usize,
    pub plan: Plan,
}

impl PlanView {
    pub fn new(steps: Vec<String>, plan: Plan) -> Self {
        PlanView {
            steps,
            replica_moves: plan.replica_moves(),
            leader_changes: plan.leader_changes(),
            new_partitions: plan.new_partitions.iter().map(|n| n.to - n.from).sum(),
            plan,
        }
    }
}

fn list(ids: &[BrokerId]) -> String {
    ids.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn loads(l: &[BrokerLoad]) -> String {
    l.iter()
        .map(|l| format!("{}:{}/{}", l.broker, l.replicas, l.leaders))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Tabular for PlanView {
    fn header(&self) -> Vec<&'static str> {
        vec!["TOPIC", "PARTITION", "CURRENT", "TARGET", "CHANGE"]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = self
            .plan
            .moves
            .iter()
            .map(|m| {
                let change = if m.is_leader_only() {
                    format!("leader {} -> {}", m.from[0], m.to[0])
                } else {
                    format!("copy to {}, drop from {}", list(&m.added), list(&m.removed))
                };
                vec![
                    m.topic.clone(),
                    m.partition.to_string(),
                    list(&m.from),
                    list(&m.to),
                    change,
                ]
            })
            .collect();
        for n in &self.plan.new_partitions {
            for (i, replicas) in n.replicas.iter().enumerate() {
                rows.push(vec![
                    n.topic.clone(),
                    (n.from + i).to_string(),
                    "-".into(),
                    list(replicas),
                    "new partition".into(),
                ]);
            }
        }
        rows
    }
    fn footer(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("step {}: {s}", i + 1))
            .collect();
        out.push(format!(
            "{} replica copies, {} preferred-leader changes, {} new partitions",
            self.replica_moves, self.leader_changes, self.new_partitions
        ));
        out.push(format!(
            "replicas/leaders per broker before: {}",
            loads(&self.plan.load_before)
        ));
        out.push(format!(
            "replicas/leaders per broker after:  {}",
            loads(&self.plan.load_after)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::admin::{BrokerInfo, PartitionState, TopicState};
    use crate::kafka::plan::{plan, Broker, PlanRequest};
    use crate::output::OutputFormat;

    fn cluster() -> ClusterState {
        let p = |id, leader, replicas: &[i32], isr: &[i32]| PartitionState {
            id,
            leader,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
        };
        ClusterState {
            brokers: (0..3)
                .map(|id| BrokerInfo {
                    id,
                    host: "h".into(),
                    port: 9092,
                })
                .collect(),
            topics: vec![
                TopicState {
                    name: "__consumer_offsets".into(),
                    partitions: vec![p(0, 0, &[0], &[0])],
                },
                TopicState {
                    name: "orders".into(),
                    partitions: vec![
                        p(0, 0, &[0, 1], &[0, 1]),
                        p(1, 1, &[1, 2], &[1]),
                        p(2, -1, &[2, 0], &[]),
                    ],
                },
            ],
        }
    }

    #[test]
    fn topics_show_spread_and_health() {
        let view = topics_view(&cluster(), false);
        assert_eq!(view.topics.len(), 1, "internal topics hidden");
        let t = &view.topics[0];
        assert_eq!(
            (
                t.partitions,
                t.replication_factor,
                t.under_replicated,
                t.offline
            ),
            (3, 2, 2, 1)
        );
        assert_eq!(
            t.replicas_per_broker,
            BTreeMap::from([(0, 2), (1, 2), (2, 2)])
        );
        assert_eq!(t.leaders_per_broker, BTreeMap::from([(0, 1), (1, 1)]));
        let table = crate::output::render(OutputFormat::Table, &view).unwrap();
        assert!(table.contains("0:2 1:2 2:2"), "{table}");
        assert!(
            table.contains("1 with under-replicated or offline"),
            "{table}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&crate::output::render(OutputFormat::Json, &view).unwrap())
                .unwrap();
        assert_eq!(json["topics"][0]["under_replicated"], 2);
        assert_eq!(topics_view(&cluster(), true).topics.len(), 2);
    }

    #[test]
    fn plan_view_lists_moves_new_partitions_and_loads() {
        let c = cluster();
        let p = plan(&PlanRequest {
            current: c.assignment(Some(&["orders".to_string()])),
            brokers: (0..4).map(Broker::new).collect(),
            partitions: BTreeMap::from([("orders".to_string(), 4)]),
            rebalance: true,
        })
        .unwrap();
        let view = PlanView::new(
            vec!["scale StatefulSet kapture-kafka-broker from 3 to 4 replicas".into()],
            p,
        );
        let table = crate::output::render(OutputFormat::Table, &view).unwrap();
        assert!(table.contains("new partition"), "{table}");
        assert!(table.contains("step 1: scale StatefulSet"), "{table}");
        assert!(
            table.contains("per broker after:  0:2/1 1:2/1 2:2/1 3:2/1"),
            "{table}"
        );
        let yaml = crate::output::render(OutputFormat::Yaml, &view).unwrap();
        assert!(yaml.contains("new_partitions: 1"), "{yaml}");
    }
}
