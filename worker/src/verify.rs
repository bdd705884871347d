//! Data-integrity comparison (pure): acknowledged ids versus what landed in Postgres, Redis
//! aggregates and the per-state topics.
use std::collections::{BTreeMap, HashMap, HashSet};

pub use kapture::verdict::{Report, StateRow};

/// How many example ids a report lists per category.
pub const SAMPLE: usize = 10;

/// A row of the Postgres `transactions` table, as far as verification cares.
#[derive(Debug, Clone, PartialEq)]
pub struct PgRow {
    pub id: String,
    pub state: String,
    pub store_id: u64,
    pub total_cents: u64,
}

/// Per-store aggregate (count, revenue in cents).
pub type StoreAgg = BTreeMap<u64, (u64, u64)>;

#[derive(Debug, Default)]
pub struct Inputs {
    pub acked: Vec<String>,
    pub postgres: Vec<PgRow>,
    /// Redis sink's per-state counts, when Redis was read.
    pub redis_states: Option<BTreeMap<String, u64>>,
    /// Redis sink's per-store (count, revenue), when Redis was read.
    pub redis_stores: Option<StoreAgg>,
    /// Messages per per-state topic (keyed by state), when Kafka was read.
    pub topics: Option<BTreeMap<String, u64>>,
}

pub fn compare(inputs: &Inputs) -> Report {
    let mut acked_set: HashSet<&str> = HashSet::with_capacity(inputs.acked.len());
    let duplicate_acks = inputs
        .acked
        .iter()
        .filter(|id| !acked_set.insert(id.as_str()))
        .count() as u64;

    let mut pg_ids: HashSet<&str> = HashSet::with_capacity(inputs.postgres.len());
    let mut duplicate_rows = 0;
    let mut pg_states: BTreeMap<String, u64> = BTreeMap::new();
    let mut pg_stores: StoreAgg = BTreeMap::new();
    for row in &inputs.postgres {
        if !pg_ids.insert(row.id.as_str()) {
            duplicate_rows += 1;
        }
        *pg_states.entry(row.state.clone()).or_default() += 1;
        let agg = pg_stores.entry(row.store_id).or_default();
        agg.0 += 1;
        agg.1 += row.total_cents;
    }

    let mut lost_ids: Vec<&str> = acked_set
        .iter()
        .copied()
        .filter(|id| !pg_ids.contains(id))
        .collect();
    let mut unexpected_ids: Vec<&str> = pg_ids
        .iter()
        .copied()
        .filter(|id| !acked_set.contains(id))
        .collect();
    lost_ids.sort_unstable();
    unexpected_ids.sort_unstable();

    let (mut over, mut under) = (0u64, 0u64);
    if let Some(redis) = &inputs.redis_states {
        let states: HashSet<&String> = redis.keys().chain(pg_states.keys()).collect();
        for state in states {
            let r = redis.get(state).copied().unwrap_or(0);
            let p = pg_states.get(state).copied().unwrap_or(0);
            over += r.saturating_sub(p);
            under += p.saturating_sub(r);
        }
    }
    let aggregates_match = match (&inputs.redis_states, &inputs.redis_stores) {
        (Some(_), Some(stores)) => Some(over == 0 && under == 0 && *stores == pg_stores),
        (Some(_), None) => Some(over == 0 && under == 0),
        _ => None,
    };

    let mut all_states: Vec<String> = pg_states.keys().cloned().collect();
    for extra in [&inputs.redis_states, &inputs.topics].into_iter().flatten() {
        all_states.extend(extra.keys().cloned());
    }
    all_states.sort_unstable();
    all_states.dedup();
    let states = all_states
        .into_iter()
        .map(|state| StateRow {
            postgres: pg_states.get(&state).copied().unwrap_or(0),
            redis: inputs
                .redis_states
                .as_ref()
                .map(|m| m.get(&state).copied().unwrap_or(0)),
            topic_messages: inputs
                .topics
                .as_ref()
                .map(|m| m.get(&state).copied().unwrap_or(0)),
            state,
        })
        .collect();

    let lost = lost_ids.len() as u64;
    let duplicated = duplicate_acks + duplicate_rows + over;
    Report {
        acked: acked_set.len() as u64,
        postgres_rows: inputs.postgres.len() as u64,
        lost,
        duplicated,
        unexpected: unexpected_ids.len() as u64,
        duplicate_acks,
        duplicate_rows,
        redis_overcount: over,
        redis_undercount: under,
        aggregates_match,
        topic_messages_total: inputs.topics.as_ref().map(|m| m.values().sum()),
        lost_sample: lost_ids
            .iter()
            .take(SAMPLE)
            .map(|s| s.to_string())
            .collect(),
        unexpected_sample: unexpected_ids
            .iter()
            .take(SAMPLE)
            .map(|s| s.to_string())
            .collect(),
        states,
        ok: lost == 0 && duplicated == 0,
    }
}

/// Parses the per-store hashes of the Redis sink (field = store id) into one map.
pub fn store_aggregates(
    counts: &HashMap<String, u64>,
    revenue: &HashMap<String, u64>,
) -> Result<StoreAgg, String> {
    let mut out = StoreAgg::new();
    for (field, n) in counts {
        let id: u64 = field
            .parse()
            .map_err(|_| format!("store id {field:?} is not a number"))?;
        out.entry(id).or_default().0 = *n;
    }
    for (field, cents) in revenue {
        let id: u64 = field
            .parse()
            .map_err(|_| format!("store id {field:?} is not a number"))?;
        out.entry(id).or_default().1 = *cents;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, state: &str, store: u64, cents: u64) -> PgRow {
        PgRow {
            id: id.into(),
            state: state.into(),
            store_id: store,
            total_cents: cents,
        }
    }
    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn map(v: &[(&str, u64)]) -> BTreeMap<String, u64> {
        v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn clean_run_is_ok() {
        let inputs = Inputs {
            acked: ids(&["a", "b", "c"]),
            postgres: vec![
                row("a", "CA", 1, 10),
                row("b", "CA", 2, 5),
                row("c", "MA", 1, 1),
            ],
            redis_states: Some(map(&[("CA", 2), ("MA", 1)])),
            redis_stores: Some([(1, (2, 11)), (2, (1, 5))].into_iter().collect()),
            topics: Some(map(&[("CA", 2), ("MA", 1)])),
        };
        let r = compare(&inputs);
        assert_eq!(
            (r.acked, r.postgres_rows, r.lost, r.duplicated, r.unexpected),
            (3, 3, 0, 0, 0)
        );
        assert_eq!(r.aggregates_match, Some(true));
        assert_eq!(r.topic_messages_total, Some(3));
        assert!(r.ok);
        assert_eq!(
            r.states[0],
            StateRow {
                state: "CA".into(),
                postgres: 2,
                redis: Some(2),
                topic_messages: Some(2)
            }
        );
    }

    #[test]
    fn lost_and_unexpected_ids_are_listed() {
        let inputs = Inputs {
            acked: ids(&["a", "b", "c"]),
            postgres: vec![row("a", "CA", 1, 1), row("z", "CA", 1, 1)],
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!((r.lost, r.unexpected, r.duplicated), (2, 1, 0));
        assert_eq!(r.lost_sample, ids(&["b", "c"]));
        assert_eq!(r.unexpected_sample, ids(&["z"]));
        assert_eq!(r.aggregates_match, None);
        assert!(!r.ok);
    }

    #[test]
    fn unexpected_alone_is_not_a_failure() {
        let r = compare(&Inputs {
            acked: ids(&["a"]),
            postgres: vec![row("a", "TX", 1, 1), row("b", "TX", 1, 1)],
            ..Default::default()
        });
        assert_eq!(r.unexpected, 1);
        assert!(r.ok);
    }

    #[test]
    fn redis_counting_an_id_twice_is_a_duplicate() {
        let inputs = Inputs {
            acked: ids(&["a", "b"]),
            postgres: vec![row("a", "CA", 1, 1), row("b", "MA", 1, 1)],
            redis_states: Some(map(&[("CA", 2), ("MA", 1)])),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!(
            (r.duplicated, r.redis_overcount, r.redis_undercount),
            (1, 1, 0)
        );
        assert_eq!(r.aggregates_match, Some(false));
        assert!(!r.ok);
    }

    #[test]
    fn redis_missing_counts_is_a_mismatch_not_a_duplicate() {
        let inputs = Inputs {
            acked: ids(&["a"]),
            postgres: vec![row("a", "CA", 1, 1)],
            redis_states: Some(BTreeMap::new()),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!(
            (r.duplicated, r.redis_undercount, r.aggregates_match),
            (0, 1, Some(false))
        );
        assert!(r.ok);
    }

    #[test]
    fn store_aggregates_must_match_too() {
        let inputs = Inputs {
            acked: ids(&["a"]),
            postgres: vec![row("a", "CA", 1, 100)],
            redis_states: Some(map(&[("CA", 1)])),
            redis_stores: Some([(1, (1, 99))].into_iter().collect()),
            ..Default::default()
        };
        assert_eq!(compare(&inputs).aggregates_match, Some(false));
    }

    #[test]
    fn duplicate_acks_and_rows_are_duplicates() {
        let inputs = Inputs {
            acked: ids(&["a", "a", "b"]),
            postgres: vec![
                row("a", "CA", 1, 1),
                row("b", "CA", 1, 1),
                row("b", "MA", 1, 1),
            ],
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!(
            (
                r.duplicate_acks,
                r.duplicate_rows,
                r.duplicated,
                r.acked,
                r.lost
            ),
            (1, 1, 2, 2, 0)
        );
        assert!(!r.ok);
    }

    #[test]
    fn states_seen_only_in_topics_are_listed() {
        let inputs = Inputs {
            topics: Some(map(&[("WA", 4)])),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!(
            r.states,
            vec![StateRow {
                state: "WA".into(),
                postgres: 0,
                redis: None,
                topic_messages: Some(4)
            }]
        );
    }

    #[test]
    fn store_hashes_parse_and_reject_bad_fields() {
        let counts: HashMap<String, u64> = [("7".to_string(), 2)].into_iter().collect();
        let revenue: HashMap<String, u64> = [("7".to_string(), 30)].into_iter().collect();
        assert_eq!(
            store_aggregates(&counts, &revenue).unwrap(),
            [(7, (2, 30))].into_iter().collect()
        );
        let bad: HashMap<String, u64> = [("x".to_string(), 1)].into_iter().collect();
        assert!(store_aggregates(&bad, &revenue).is_err());
    }
}
