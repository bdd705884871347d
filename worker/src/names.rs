//! Names of topics, consumer groups and Redis keys, derived from the configured prefixes so
//! that several flows (or tests) can share one broker, one Redis and one Postgres.
use super::model::geo;
use super::transaction::{state_topic, DEAD_LETTER_TOPIC, TRANSACTIONS_TOPIC};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    topic_prefix: String,
    redis_prefix: String,
}

impl Names {
    pub fn new(topic_prefix: &str, redis_prefix: &str) -> Self {
        Self {
            topic_prefix: topic_prefix.to_owned(),
            redis_prefix: redis_prefix.to_owned(),
        }
    }

    /// Topic the order service (and `loadgen --direct`) produces to.
    pub fn source_topic(&self) -> String {
        format!("{}{TRANSACTIONS_TOPIC}", self.topic_prefix)
    }

    /// Per-state topic, e.g. `transactions.ca`.
    pub fn state_topic(&self, state: &str) -> String {
        format!("{}{}", self.topic_prefix, state_topic(state))
    }

    /// librdkafka regex subscription (leading `^`) matching every per-state topic: two
    /// lower-case letters, so not the dead-letter topic beside them.
    pub fn state_topic_pattern(&self) -> String {
        format!("^{}\\.[a-z][a-z]$", regex_escape(&self.source_topic()))
    }

    /// The state code (upper case) of a per-state topic, None for any other topic.
    pub fn state_of_topic(&self, topic: &str) -> Option<String> {
        let rest = topic
            .strip_prefix(&self.source_topic())?
            .strip_prefix('.')?;
        let valid = rest.len() == 2 && rest.chars().all(|c| c.is_ascii_lowercase());
        valid.then(|| rest.to_ascii_uppercase())
    }

    /// Where the router and the sinks put what they cannot route or store.
    pub fn dead_letter_topic(&self) -> String {
        format!("{}{DEAD_LETTER_TOPIC}", self.topic_prefix)
    }

    /// Every topic the flow uses: the source, one per state of the geography, dead letters.
    /// The topic Job creates them all, so no role creates a topic with its own defaults.
    pub fn all_topics(&self) -> Vec<String> {
        let mut topics = vec![self.source_topic()];
        topics.extend(geo::STATES.iter().map(|s| self.state_topic(s.code)));
        topics.push(self.dead_letter_topic());
        topics
    }

    /// Consumer group id for a role: the topic prefix keeps groups of separate flows apart.
    pub fn group(&self, group_id: &str) -> String {
        format!("{}{group_id}", self.topic_prefix)
    }

    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.redis_prefix)
    }

    /// Prefix of the bitmaps `loadgen --ack-redis` writes: one per generator stream (the
    /// hex id prefix follows), bit n set when the stream's n-th transaction was acknowledged.
    pub fn acked_bitmap_prefix(&self) -> String {
        self.redis_key("acked:")
    }
    /// Hash of the offsets the Redis sink has applied, per stream (see `sink_redis`): what
    /// makes redelivery harmless, bounded by the number of partitions.
    pub fn applied_offsets(&self) -> String {
        self.redis_key("sink:applied")
    }
    /// Hash state -> number of transactions (Redis sink).
    pub fn agg_state_count(&self) -> String {
        self.redis_key("agg:state:count")
    }
    /// Hash store id -> number of transactions (Redis sink).
    pub fn agg_store_count(&self) -> String {
        self.redis_key("agg:store:count")
    }
    /// Hash store id -> revenue in cents (Redis sink).
    pub fn agg_store_revenue(&self) -> String {
        self.redis_key("agg:store:revenue_cents")
    }
    /// List of the most recent orders accepted by the order service.
    pub fn recent_orders(&self) -> String {
        self.redis_key("orders:recent")
    }
    /// Hash of the order service's counters (accepted, per state).
    pub fn order_counters(&self) -> String {
        self.redis_key("orders:counters")
    }
}

fn regex_escape(s: &str) -> String {
    backslash_escape(s, "\\.+*?()|[]{}^$")
}

/// A Redis glob pattern (SCAN MATCH) matching `s` literally.
pub fn glob_escape(s: &str) -> String {
    backslash_escape(s, "\\*?[]^")
}

fn backslash_escape(s: &str, specials: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if specials.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Postgres schema name we are willing to splice into SQL: a plain lower-case identifier.
pub fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_follow_the_contract() {
        let n = Names::new("", "kapture:");
        assert_eq!(n.source_topic(), "transactions");
        assert_eq!(n.state_topic("CA"), "transactions.ca");
        assert_eq!(n.acked_bitmap_prefix(), "kapture:acked:");
        assert_eq!(n.dead_letter_topic(), "transactions.dead-letter");
        assert_eq!(n.group("kapture-router"), "kapture-router");
        assert_eq!(n.state_topic_pattern(), "^transactions\\.[a-z][a-z]$");
        let all = n.all_topics();
        assert_eq!(all.len(), 53);
        assert_eq!(
            (all[0].as_str(), all[52].as_str()),
            ("transactions", "transactions.dead-letter")
        );
        assert!(all.contains(&"transactions.dc".to_string()));
    }

    #[test]
    fn prefixes_apply_to_topics_groups_and_keys() {
        let n = Names::new("t1.", "x:");
        assert_eq!(n.source_topic(), "t1.transactions");
        assert_eq!(n.state_topic("tx"), "t1.transactions.tx");
        assert_eq!(n.group("g"), "t1.g");
        assert_eq!(n.applied_offsets(), "x:sink:applied");
        assert_eq!(n.dead_letter_topic(), "t1.transactions.dead-letter");
        assert_eq!(n.state_topic_pattern(), "^t1\\.transactions\\.[a-z][a-z]$");
    }

    #[test]
    fn state_of_topic_round_trips_and_rejects_others() {
        let n = Names::new("p-", "k:");
        assert_eq!(
            n.state_of_topic(&n.state_topic("MA")).as_deref(),
            Some("MA")
        );
        assert_eq!(n.state_of_topic("p-transactions"), None);
        assert_eq!(n.state_of_topic("p-transactions."), None);
        assert_eq!(n.state_of_topic("transactions.ma"), None);
        assert_eq!(n.state_of_topic("p-transactions.m.a"), None);
        assert_eq!(n.state_of_topic(&n.dead_letter_topic()), None);
    }

    #[test]
    fn escapes_match_literally() {
        assert_eq!(regex_escape("a.b+"), "a\\.b\\+");
        assert_eq!(glob_escape("k*[x]:"), "k\\*\\[x\\]:");
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(valid_schema("public"));
        assert!(valid_schema("_t1_x9"));
        assert!(!valid_schema("1abc"));
        assert!(!valid_schema("a;drop"));
        assert!(!valid_schema("Upper"));
        assert!(!valid_schema(""));
    }
}
