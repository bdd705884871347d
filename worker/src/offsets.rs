//! Which offsets to commit after a batch has been fully processed (pure).
use std::collections::BTreeMap;

/// Commit positions for a processed batch: per (topic, partition), the highest offset seen
/// plus one (Kafka commits the position of the next message to read).
pub fn commit_positions<'a>(
    processed: impl IntoIterator<Item = (&'a str, i32, i64)>,
) -> BTreeMap<(String, i32), i64> {
    let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for (topic, partition, offset) in processed {
        let next = offset + 1;
        out.entry((topic.to_owned(), partition))
            .and_modify(|o| *o = (*o).max(next))
            .or_insert(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_offset_plus_one_per_partition() {
        let got = commit_positions([
            ("a", 0, 5),
            ("a", 0, 3),
            ("a", 1, 0),
            ("b", 0, 9),
            ("a", 0, 7),
        ]);
        let want: BTreeMap<_, _> = [
            (("a".into(), 0), 8),
            (("a".into(), 1), 1),
            (("b".into(), 0), 10),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn empty_batch_commits_nothing() {
        assert!(commit_positions([]).is_empty());
    }
}
