//! Validation of incoming transactions (order service), pure.
use super::transaction::Transaction;

/// Longest transaction id accepted (it is the Kafka key and the Postgres primary key).
pub const MAX_ID_LEN: usize = 128;

/// Parses and checks a request body; the error is the reason sent back with a 400.
pub fn parse_transaction(body: &[u8]) -> Result<Transaction, String> {
    let txn: Transaction =
        serde_json::from_slice(body).map_err(|e| format!("invalid transaction JSON: {e}"))?;
    validate(&txn)?;
    Ok(txn)
}

pub fn validate(txn: &Transaction) -> Result<(), String> {
    if txn.id.is_empty() || txn.id.len() > MAX_ID_LEN {
        return Err(format!("id must be 1 to {MAX_ID_LEN} characters"));
    }
    if !txn
        .id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err("id may contain only letters, digits and - _ . :".into());
    }
    if txn.time.parse::<jiff::Timestamp>().is_err() {
        return Err(format!("time {:?} is not an RFC 3339 timestamp", txn.time));
    }
    for (what, state) in [
        ("store", &txn.store.location.state),
        ("customer", &txn.customer.location.state),
    ] {
        if state.len() != 2 || !state.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "{what} state {state:?} is not a two-letter upper-case code"
            ));
        }
    }
    if txn.items.is_empty() {
        return Err("a transaction needs at least one item".into());
    }
    let mut sum: u64 = 0;
    for item in &txn.items {
        if item.quantity == 0 {
            return Err(format!("item {:?} has quantity 0", item.sku));
        }
        let line = item.price_cents.checked_mul(u64::from(item.quantity));
        sum = line
            .and_then(|l| sum.checked_add(l))
            .ok_or("item totals overflow")?;
    }
    if sum != txn.total_cents {
        return Err(format!(
            "total_cents {} does not match the items' sum {sum}",
            txn.total_cents
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Customer, LineItem, Location, Store};

    fn sample() -> Transaction {
        let loc = Location {
            zip: "02139".into(),
            city: "Cambridge".into(),
            state: "MA".into(),
        };
        Transaction {
            id: "t-1".into(),
            time: "2026-01-02T03:04:05Z".into(),
            customer: Customer {
                id: 1,
                name: "Ann".into(),
                location: loc.clone(),
            },
            store: Store {
                id: 2,
                name: "Store".into(),
                location: loc,
            },
            items: vec![
                LineItem {
                    sku: "a".into(),
                    category: "dog".into(),
                    brand: "b".into(),
                    description: "food".into(),
                    price_cents: 250,
                    quantity: 2,
                },
                LineItem {
                    sku: "c".into(),
                    category: "cat".into(),
                    brand: "b".into(),
                    description: "litter".into(),
                    price_cents: 100,
                    quantity: 1,
                },
            ],
            total_cents: 600,
        }
    }

    #[test]
    fn accepts_a_consistent_transaction() {
        let body = serde_json::to_vec(&sample()).unwrap();
        assert_eq!(parse_transaction(&body).unwrap(), sample());
    }

    #[test]
    fn the_generator_only_produces_valid_transactions() {
        use crate::model::{Generator, GeneratorConfig};
        let mut g = Generator::new(GeneratorConfig {
            seed: 11,
            stores: 20,
            customers: 500,
            ..Default::default()
        });
        let mut buf = Vec::new();
        for _ in 0..2_000 {
            g.next_json(&mut buf);
            if let Err(reason) = parse_transaction(&buf) {
                panic!("{reason}: {}", String::from_utf8_lossy(&buf));
            }
        }
    }

    #[test]
    fn rejects_malformed_json_and_unknown_fields() {
        assert!(parse_transaction(b"{")
            .unwrap_err()
            .contains("invalid transaction JSON"));
        let mut v = serde_json::to_value(sample()).unwrap();
        v["extra"] = 1.into();
        assert!(parse_transaction(v.to_string().as_bytes()).is_err());
    }

    #[test]
    fn rejects_each_inconsistency_with_a_reason() {
        type Case = (fn(&mut Transaction), &'static str);
        let cases: Vec<Case> = vec![
            (|t| t.id.clear(), "id must be"),
            (|t| t.id = "x".repeat(MAX_ID_LEN + 1), "id must be"),
            (|t| t.id = "a b".into(), "id may contain"),
            (|t| t.time = "yesterday".into(), "RFC 3339"),
            (|t| t.store.location.state = "Mass".into(), "store state"),
            (
                |t| t.customer.location.state = "ma".into(),
                "customer state",
            ),
            (|t| t.items.clear(), "at least one item"),
            (|t| t.items[0].quantity = 0, "quantity 0"),
            (|t| t.total_cents += 1, "does not match"),
            (|t| t.items[0].price_cents = u64::MAX, "overflow"),
        ];
        for (mutate, reason) in cases {
            let mut t = sample();
            mutate(&mut t);
            let err = validate(&t).unwrap_err();
            assert!(err.contains(reason), "{err:?} should mention {reason:?}");
        }
    }
}
