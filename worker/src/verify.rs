//! Data-integrity comparison (pure): acknowledged ids versus what landed in Postgres, Redis
//! aggregates, MongoDB, the per-state topics and the dead-letter topic.
//!
//! An acknowledged id is accounted for when it is in Postgres or dead-lettered; only the rest
//! are lost (MongoDB is held to the same: in it or dead-lettered). Redis and MongoDB must
//! count exactly what Postgres holds, less what their own sink dead-lettered, plus what only
//! the Postgres sink dead-lettered (they stored those).
use std::collections::{BTreeMap, HashMap, HashSet};

use kapture::component::Component;
pub use kapture::verdict::{DeadLetterCount, Report, StateRow};

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

/// A document of the MongoDB sink's collection, as far as verification cares.
#[derive(Debug, Clone, PartialEq)]
pub struct MongoDoc {
    pub id: String,
    pub state: String,
}

/// A message of the dead-letter topic, as far as verification cares.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The transaction id (message key, else the payload's `id`), when there is one.
    pub id: Option<String>,
    /// The role that dead-lettered it, and its reason label.
    pub role: String,
    pub label: String,
    pub reason: String,
    /// The aggregates' view of the payload, when it parses that far.
    pub row: Option<PgRow>,
}

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
    /// The dead-letter topic, when Kafka was read.
    pub dead_letters: Option<Vec<DeadLetter>>,
    /// The MongoDB sink's documents, when MongoDB was read.
    pub mongo: Option<Vec<MongoDoc>>,
}

/// What a sink other than Postgres should hold, per state and per store: Postgres's rows and
/// the rows only the Postgres sink dead-lettered, less what `sink` dead-lettered, each id once.
fn expected_of(
    sink: Component,
    postgres: &[PgRow],
    letters: &[DeadLetter],
) -> (BTreeMap<String, u64>, StoreAgg) {
    let skipped: HashSet<&str> = letters
        .iter()
        .filter(|l| l.role == sink.name())
        .filter_map(|l| l.id.as_deref())
        .collect();
    let postgres_only_dead = letters
        .iter()
        .filter(|l| l.role == Component::SinkPostgres.name())
        .filter_map(|l| l.row.as_ref());
    let (mut states, mut stores) = (BTreeMap::new(), StoreAgg::new());
    let mut seen: HashSet<&str> = HashSet::new();
    for row in postgres.iter().chain(postgres_only_dead) {
        let id = row.id.as_str();
        if skipped.contains(id) || !seen.insert(id) {
            continue;
        }
        *states.entry(row.state.clone()).or_default() += 1;
        let agg = stores.entry(row.store_id).or_default();
        agg.0 += 1;
        agg.1 += row.total_cents;
    }
    (states, stores)
}

/// Per-state (over, under): what `have` counts beyond and short of `want`.
fn state_differences(have: &BTreeMap<String, u64>, want: &BTreeMap<String, u64>) -> (u64, u64) {
    let states: HashSet<&String> = have.keys().chain(want.keys()).collect();
    states.into_iter().fold((0, 0), |(over, under), state| {
        let h = have.get(state).copied().unwrap_or(0);
        let w = want.get(state).copied().unwrap_or(0);
        (over + h.saturating_sub(w), under + w.saturating_sub(h))
    })
}

/// What the MongoDB documents say against the acknowledgements and Postgres.
struct MongoFindings {
    documents: u64,
    states: BTreeMap<String, u64>,
    duplicates: u64,
    lost: Vec<String>,
    states_match: bool,
}

fn mongo_findings(
    docs: &[MongoDoc],
    acked: &HashSet<&str>,
    dead: &HashSet<&str>,
    postgres: &[PgRow],
    letters: &[DeadLetter],
) -> MongoFindings {
    let mut ids: HashSet<&str> = HashSet::with_capacity(docs.len());
    let (mut duplicates, mut states) = (0, BTreeMap::<String, u64>::new());
    for d in docs {
        if !ids.insert(d.id.as_str()) {
            duplicates += 1;
        }
        *states.entry(d.state.clone()).or_default() += 1;
    }
    let mut lost: Vec<String> = acked
        .iter()
        .filter(|id| !ids.contains(*id) && !dead.contains(*id))
        .map(|id| id.to_string())
        .collect();
    lost.sort_unstable();
    let (want, _) = expected_of(Component::SinkMongo, postgres, letters);
    MongoFindings {
        documents: docs.len() as u64,
        states_match: state_differences(&states, &want) == (0, 0),
        states,
        duplicates,
        lost,
    }
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

    let letters = inputs.dead_letters.as_deref().unwrap_or_default();
    let dead_ids: HashSet<&str> = letters.iter().filter_map(|l| l.id.as_deref()).collect();

    let mut lost_ids: Vec<&str> = acked_set
        .iter()
        .copied()
        .filter(|id| !pg_ids.contains(id) && !dead_ids.contains(id))
        .collect();
    let mut unexpected_ids: Vec<&str> = pg_ids
        .iter()
        .copied()
        .filter(|id| !acked_set.contains(id))
        .collect();
    lost_ids.sort_unstable();
    unexpected_ids.sort_unstable();

    // What the Redis sink should have counted, per state and per store.
    let (want_states, want_stores) = expected_of(Component::SinkRedis, &inputs.postgres, letters);
    let (over, under) = inputs
        .redis_states
        .as_ref()
        .map_or((0, 0), |redis| state_differences(redis, &want_states));
    let mut store_mismatches: Vec<String> = Vec::new();
    if let Some(stores) = &inputs.redis_stores {
        let ids: std::collections::BTreeSet<&u64> =
            stores.keys().chain(want_stores.keys()).collect();
        for id in ids {
            let (have, want) = (
                stores.get(id).copied().unwrap_or_default(),
                want_stores.get(id).copied().unwrap_or_default(),
            );
            if have != want {
                store_mismatches.push(format!(
                    "store {id}: redis {} transactions / {} cents, expected {} / {}",
                    have.0, have.1, want.0, want.1
                ));
            }
        }
    }
    let aggregates_match = inputs
        .redis_states
        .as_ref()
        .map(|_| over == 0 && under == 0 && store_mismatches.is_empty());

    let mut dead_counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for l in letters {
        *dead_counts
            .entry((l.role.clone(), l.label.clone()))
            .or_default() += 1;
    }
    let mut dead_sample: Vec<String> = letters
        .iter()
        .map(|l| {
            format!(
                "{} ({}: {})",
                l.id.as_deref().unwrap_or("-"),
                l.role,
                l.reason
            )
        })
        .collect();
    dead_sample.sort_unstable();
    dead_sample.dedup();

    let mongo = inputs
        .mongo
        .as_deref()
        .map(|docs| mongo_findings(docs, &acked_set, &dead_ids, &inputs.postgres, letters));
    let mongo_states = mongo.as_ref().map(|m| &m.states);

    let mut all_states: Vec<String> = pg_states.keys().cloned().collect();
    for extra in [
        inputs.redis_states.as_ref(),
        inputs.topics.as_ref(),
        mongo_states,
    ]
    .into_iter()
    .flatten()
    {
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
            mongo: mongo_states.map(|m| m.get(&state).copied().unwrap_or(0)),
            topic_messages: inputs
                .topics
                .as_ref()
                .map(|m| m.get(&state).copied().unwrap_or(0)),
            state,
        })
        .collect();

    let lost = lost_ids.len() as u64;
    let mongo_duplicates = mongo.as_ref().map_or(0, |m| m.duplicates);
    let mongo_lost = mongo.as_ref().map_or(0, |m| m.lost.len() as u64);
    let mongo_states_match = mongo.as_ref().map(|m| m.states_match);
    let duplicated = duplicate_acks + duplicate_rows + over + mongo_duplicates;
    let dead_lettered_acked = acked_set.iter().filter(|id| dead_ids.contains(*id)).count() as u64;
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
        dead_lettered: inputs.dead_letters.as_ref().map(|_| dead_ids.len() as u64),
        dead_lettered_acked,
        dead_letters: dead_counts
            .into_iter()
            .map(|((role, reason), messages)| DeadLetterCount {
                role,
                reason,
                messages,
            })
            .collect(),
        dead_letter_sample: dead_sample.into_iter().take(SAMPLE).collect(),
        store_mismatches: store_mismatches.len() as u64,
        store_mismatch_sample: store_mismatches.into_iter().take(SAMPLE).collect(),
        mongo_documents: mongo.as_ref().map(|m| m.documents),
        mongo_lost,
        mongo_lost_sample: mongo
            .map(|m| m.lost.into_iter().take(SAMPLE).collect())
            .unwrap_or_default(),
        mongo_duplicates,
        mongo_states_match,
        // Redis or MongoDB missing what Postgres holds is lost data too, not only a mismatch.
        ok: lost == 0
            && mongo_lost == 0
            && duplicated == 0
            && aggregates_match != Some(false)
            && mongo_states_match != Some(false),
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

/// One partition a consumer group reads, as `--settle` sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// The partition's first and next offsets (its watermarks).
    pub low: i64,
    pub high: i64,
    /// The group's committed offset (the next it would read); None if it never committed.
    pub committed: Option<i64>,
}

/// Messages the groups have not committed yet: while there are any, a sink is behind (it may
/// be restarting, even in a crash-loop back-off), so a verdict that stopped changing is not
/// final. A group that never committed on a partition has all of it left to read.
pub fn uncommitted(positions: impl IntoIterator<Item = Position>) -> u64 {
    positions
        .into_iter()
        .map(|p| {
            let from = p.committed.unwrap_or(p.low).max(p.low);
            u64::try_from(p.high - from).unwrap_or(0)
        })
        .sum()
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
    fn doc(id: &str, state: &str) -> MongoDoc {
        MongoDoc {
            id: id.into(),
            state: state.into(),
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
            dead_letters: Some(vec![]),
            mongo: Some(vec![doc("a", "CA"), doc("b", "CA"), doc("c", "MA")]),
        };
        let r = compare(&inputs);
        assert_eq!(
            (r.acked, r.postgres_rows, r.lost, r.duplicated, r.unexpected),
            (3, 3, 0, 0, 0)
        );
        assert_eq!(
            (r.mongo_documents, r.mongo_lost, r.mongo_states_match),
            (Some(3), 0, Some(true))
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
                mongo: Some(2),
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
    fn redis_missing_counts_fails_without_being_a_duplicate() {
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
        assert!(!r.ok, "Redis lost a transaction: the verdict must fail");
    }

    fn letter(id: &str, role: Component, row: Option<PgRow>) -> DeadLetter {
        DeadLetter {
            id: Some(id.into()),
            role: role.name().into(),
            label: "time".into(),
            reason: "time: out of range".into(),
            row,
        }
    }

    #[test]
    fn dead_lettered_ids_are_accounted_for_not_lost() {
        let inputs = Inputs {
            acked: ids(&["a", "b", "c"]),
            postgres: vec![row("a", "CA", 1, 10)],
            redis_states: Some(map(&[("CA", 1)])),
            redis_stores: Some([(1, (1, 10))].into_iter().collect()),
            dead_letters: Some(vec![
                // Refused by the router: reached neither sink.
                letter("b", Component::Router, None),
                // Refused by both sinks (the same rule): counted once.
                letter("c", Component::SinkPostgres, None),
                letter("c", Component::SinkRedis, None),
                letter("c", Component::SinkPostgres, None),
            ]),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!((r.lost, r.duplicated), (0, 0), "{r:#?}");
        assert_eq!((r.dead_lettered, r.dead_lettered_acked), (Some(2), 2));
        assert_eq!(r.aggregates_match, Some(true));
        assert!(r.ok);
        assert_eq!(r.dead_letters.len(), 3);
        assert_eq!(r.dead_letters[1].messages, 2, "{:?}", r.dead_letters);
        assert_eq!(r.dead_letter_sample.len(), 3, "one line per id and role");
    }

    #[test]
    fn what_one_sink_dead_lettered_the_other_still_counts() {
        let inputs = Inputs {
            acked: ids(&["a", "b", "c"]),
            postgres: vec![row("a", "CA", 1, 10), row("b", "CA", 2, 20)],
            // b overflowed store 2's revenue in Redis; c Postgres refused, Redis counted.
            redis_states: Some(map(&[("CA", 1), ("MA", 1)])),
            redis_stores: Some([(1, (1, 10)), (3, (1, 5))].into_iter().collect()),
            dead_letters: Some(vec![
                letter("b", Component::SinkRedis, None),
                letter("c", Component::SinkPostgres, Some(row("c", "MA", 3, 5))),
            ]),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!(r.aggregates_match, Some(true), "{r:#?}");
        assert!(r.ok);
        // Without the letters the same Redis counts are a mismatch.
        let r = compare(&Inputs {
            dead_letters: Some(vec![]),
            ..inputs
        });
        assert_eq!(r.aggregates_match, Some(false));
        assert!(!r.ok);
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
        let r = compare(&inputs);
        assert_eq!(r.aggregates_match, Some(false));
        assert_eq!(r.store_mismatches, 1);
        assert_eq!(
            r.store_mismatch_sample,
            ["store 1: redis 1 transactions / 99 cents, expected 1 / 100"]
        );
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
                mongo: None,
                topic_messages: Some(4)
            }]
        );
    }

    #[test]
    fn mongo_missing_an_acknowledged_id_is_lost() {
        let inputs = Inputs {
            acked: ids(&["a", "b", "c"]),
            postgres: vec![
                row("a", "CA", 1, 1),
                row("b", "CA", 1, 1),
                row("c", "MA", 1, 1),
            ],
            mongo: Some(vec![doc("a", "CA"), doc("c", "MA")]),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!((r.lost, r.mongo_lost), (0, 1));
        assert_eq!(r.mongo_lost_sample, ids(&["b"]));
        // One CA document short: the per-state counts differ too.
        assert_eq!(r.mongo_states_match, Some(false));
        assert_eq!(r.states[0].mongo, Some(1));
        assert!(!r.ok);
    }

    #[test]
    fn an_id_twice_in_mongo_is_a_duplicate() {
        let inputs = Inputs {
            acked: ids(&["a", "b"]),
            postgres: vec![row("a", "CA", 1, 1), row("b", "MA", 1, 1)],
            mongo: Some(vec![doc("a", "CA"), doc("b", "MA"), doc("a", "CA")]),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!((r.mongo_duplicates, r.duplicated, r.mongo_lost), (1, 1, 0));
        assert_eq!(r.mongo_states_match, Some(false));
        assert!(!r.ok);
    }

    #[test]
    fn mongo_counts_per_state_against_postgres_and_the_dead_letters() {
        let inputs = Inputs {
            acked: ids(&["a", "b", "c"]),
            postgres: vec![row("a", "CA", 1, 1), row("b", "TX", 1, 1)],
            // b refused by Mongo (a validator); c refused by Postgres only, so Mongo holds it.
            mongo: Some(vec![doc("a", "CA"), doc("c", "MA")]),
            dead_letters: Some(vec![
                letter("b", Component::SinkMongo, None),
                letter("c", Component::SinkPostgres, Some(row("c", "MA", 1, 1))),
            ]),
            ..Default::default()
        };
        let r = compare(&inputs);
        assert_eq!(
            (r.mongo_lost, r.mongo_states_match),
            (0, Some(true)),
            "{r:#?}"
        );
        assert!(r.ok);
        // A document in the wrong state is a mismatch, though no id is lost.
        let r = compare(&Inputs {
            mongo: Some(vec![doc("a", "TX"), doc("c", "MA")]),
            ..inputs
        });
        assert_eq!((r.mongo_lost, r.mongo_states_match), (0, Some(false)));
        assert!(!r.ok);
    }

    #[test]
    fn without_mongo_nothing_is_said_about_it() {
        let r = compare(&Inputs {
            acked: ids(&["a"]),
            postgres: vec![row("a", "CA", 1, 1)],
            ..Default::default()
        });
        assert_eq!((r.mongo_documents, r.mongo_states_match), (None, None));
        assert_eq!(r.states[0].mongo, None);
        assert!(r.ok);
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

    #[test]
    fn uncommitted_counts_what_each_group_has_left_to_read() {
        let at = |low, high, committed| Position {
            low,
            high,
            committed,
        };
        assert_eq!(uncommitted([]), 0);
        // Caught up, or nothing was ever written.
        assert_eq!(uncommitted([at(0, 40, Some(40)), at(0, 0, None)]), 0);
        // Behind; never committed (from the low watermark, which retention may have moved).
        assert_eq!(
            uncommitted([at(0, 40, Some(25)), at(10, 30, None)]),
            15 + 20
        );
        // A commit below the low watermark counts from the low watermark; one past the end
        // (the partition was recreated) is not negative.
        assert_eq!(uncommitted([at(10, 30, Some(5)), at(0, 3, Some(9))]), 20);
    }
}
