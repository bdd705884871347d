//! The integrity verdict: what `kapture-worker verify` finds and prints, and what the plugin's
//! `verify` reads back from the verifier Job's log. One type on both sides of that pipe, so a
//! renamed field breaks the build rather than the parse.
use serde::{Deserialize, Serialize};

use crate::output::Tabular;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRow {
    pub state: String,
    pub postgres: u64,
    pub redis: Option<u64>,
    /// Documents in the MongoDB sink's collection, when it was read.
    #[serde(default)]
    pub mongo: Option<u64>,
    pub topic_messages: Option<u64>,
}

/// Dead letters of one role and reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterCount {
    pub role: String,
    /// The field (or `postgres`, `store_revenue_overflow`) that made it unstorable.
    pub reason: String,
    pub messages: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub acked: u64,
    pub postgres_rows: u64,
    /// Acknowledged but neither in Postgres nor dead-lettered.
    pub lost: u64,
    /// Counted more than once: ids acknowledged twice, ids present twice in Postgres or in
    /// MongoDB, and transactions the Redis aggregates count more often than Postgres holds them.
    pub duplicated: u64,
    /// In Postgres but never acknowledged (in flight when the load generator stopped).
    pub unexpected: u64,
    pub duplicate_acks: u64,
    pub duplicate_rows: u64,
    pub redis_overcount: u64,
    pub redis_undercount: u64,
    /// Redis aggregates (per state and per store) equal those computed from Postgres.
    pub aggregates_match: Option<bool>,
    pub topic_messages_total: Option<u64>,
    pub lost_sample: Vec<String>,
    pub unexpected_sample: Vec<String>,
    pub states: Vec<StateRow>,
    /// Distinct ids in the dead-letter topic, when it was read.
    #[serde(default)]
    pub dead_lettered: Option<u64>,
    /// Of those, how many were acknowledged (accounted for, not lost).
    #[serde(default)]
    pub dead_lettered_acked: u64,
    #[serde(default)]
    pub dead_letters: Vec<DeadLetterCount>,
    /// `id (role: reason)` examples.
    #[serde(default)]
    pub dead_letter_sample: Vec<String>,
    /// Stores whose Redis count or revenue differs from what it should be, and examples.
    #[serde(default)]
    pub store_mismatches: u64,
    #[serde(default)]
    pub store_mismatch_sample: Vec<String>,
    /// Documents in the MongoDB sink's collection, when it was read (`--mongo-url`).
    #[serde(default)]
    pub mongo_documents: Option<u64>,
    /// Acknowledged but neither in MongoDB nor dead-lettered, and examples.
    #[serde(default)]
    pub mongo_lost: u64,
    #[serde(default)]
    pub mongo_lost_sample: Vec<String>,
    /// Ids held by more than one document (counted in `duplicated` too).
    #[serde(default)]
    pub mongo_duplicates: u64,
    /// MongoDB's per-state counts equal Postgres's, less what the Mongo sink dead-lettered,
    /// plus what only the Postgres sink dead-lettered.
    #[serde(default)]
    pub mongo_states_match: Option<bool>,
    /// Nothing lost, nothing counted twice, and Redis and MongoDB hold what Postgres holds.
    pub ok: bool,
}

impl Tabular for Report {
    fn header(&self) -> Vec<&'static str> {
        vec!["STATE", "POSTGRES", "REDIS", "MONGO", "TOPIC-MESSAGES"]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
        self.states
            .iter()
            .map(|s| {
                vec![
                    s.state.clone(),
                    s.postgres.to_string(),
                    opt(s.redis),
                    opt(s.mongo),
                    opt(s.topic_messages),
                ]
            })
            .collect()
    }
    fn footer(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "acknowledged: {}  postgres rows: {}",
                self.acked, self.postgres_rows
            ),
            format!(
                "lost: {}  duplicated: {} (acks {}, rows {}, redis over-count {})  unexpected: {}",
                self.lost,
                self.duplicated,
                self.duplicate_acks,
                self.duplicate_rows,
                self.redis_overcount,
                self.unexpected
            ),
        ];
        if let Some(m) = self.aggregates_match {
            lines.push(format!(
                "redis aggregates match postgres: {m} (under-count {}, stores differing {})",
                self.redis_undercount, self.store_mismatches
            ));
            for line in &self.store_mismatch_sample {
                lines.push(format!("  {line}"));
            }
        }
        if let (Some(docs), Some(matched)) = (self.mongo_documents, self.mongo_states_match) {
            lines.push(format!(
                "mongo documents: {docs}  lost: {}  ids twice: {}  per-state counts match postgres: {matched}",
                self.mongo_lost, self.mongo_duplicates
            ));
            if !self.mongo_lost_sample.is_empty() {
                lines.push(format!(
                    "  lost in mongo (sample): {}",
                    self.mongo_lost_sample.join(" ")
                ));
            }
        }
        if let Some(t) = self.topic_messages_total {
            lines.push(format!("per-state topic messages: {t}"));
        }
        if let Some(d) = self.dead_lettered {
            lines.push(format!(
                "dead-lettered: {d} ids, {} of them acknowledged (accounted for, not lost)",
                self.dead_lettered_acked
            ));
            for c in &self.dead_letters {
                lines.push(format!("  {} by {}: {}", c.messages, c.role, c.reason));
            }
            if !self.dead_letter_sample.is_empty() {
                lines.push(format!(
                    "dead letters (sample): {}",
                    self.dead_letter_sample.join("; ")
                ));
            }
        }
        if !self.lost_sample.is_empty() {
            lines.push(format!("lost (sample): {}", self.lost_sample.join(" ")));
        }
        lines.push(if self.ok {
            "verdict: OK".into()
        } else {
            "verdict: FAILED".into()
        });
        lines
    }
}
