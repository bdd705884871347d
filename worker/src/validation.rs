//! The one rule every role applies to a transaction (pure): what the order service accepts,
//! every sink can store. The router and the sinks apply it again to what they read, so a
//! message from another producer (or from an older version) that breaks it is dead-lettered
//! instead of stopping them. Limits and why: docs/workload.md, "What the order service accepts".
use std::fmt;

use super::model::geo;
use super::transaction::{Location, Transaction};

/// Longest transaction id (it is the Kafka key and the Postgres primary key).
pub const MAX_ID_LEN: usize = 128;
/// Longest SKU, in characters.
pub const MAX_SKU_LEN: usize = 64;
/// Longest name, city, brand, category or description, in characters.
pub const MAX_TEXT_LEN: usize = 200;
/// Most line items in one transaction.
pub const MAX_ITEMS: usize = 100;
/// Most units of one line item.
pub const MAX_QUANTITY: u32 = 10_000;
/// Highest unit price: $1,000,000.
pub const MAX_PRICE_CENTS: u64 = 100_000_000;
/// Highest transaction total: $100,000,000. A store's revenue (an int64 in Redis) then takes
/// over 92 billion maximal transactions to overflow; the Redis sink checks anyway.
pub const MAX_TOTAL_CENTS: u64 = 10_000_000_000;
/// Store and customer ids are Postgres `bigint`s: 1 to i64::MAX.
pub const MAX_ENTITY_ID: u64 = i64::MAX as u64;
/// Purchase times from 1970-01-01T00:00:00Z (Unix time 0), inclusive, to 9999-01-01T00:00:00Z,
/// exclusive: inside PostgreSQL's timestamptz (4713 BC to 294276 AD), BSON dates, RFC 3339's
/// four-digit years and the range jiff parses (which ends on 9999-12-30).
pub const EARLIEST_TIME: jiff::Timestamp = jiff::Timestamp::UNIX_EPOCH;
/// Unix milliseconds of the first instant refused after [`EARLIEST_TIME`]: 9999-01-01T00:00:00Z.
pub const END_UNIX_MS: i64 = 253_370_764_800_000;
pub fn end_time() -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(END_UNIX_MS).expect("9999-01-01 is in jiff's range")
}

/// Why a transaction was refused: the field (a fixed label, used as the metric reason) and
/// a message for the client that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub field: &'static str,
    pub message: String,
}

impl Rejection {
    fn new(field: &'static str, message: impl fmt::Display) -> Self {
        Rejection {
            field,
            message: format!("{field}: {message}"),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every field a rejection can name (the metric's reason label), JSON syntax aside.
pub const FIELDS: &[&str] = &[
    "id",
    "time",
    "customer",
    "customer.id",
    "customer.name",
    "customer.location",
    "customer.location.zip",
    "customer.location.city",
    "customer.location.state",
    "store",
    "store.id",
    "store.name",
    "store.location",
    "store.location.zip",
    "store.location.city",
    "store.location.state",
    "items",
    "items.sku",
    "items.category",
    "items.brand",
    "items.description",
    "items.price_cents",
    "items.quantity",
    "total_cents",
];
/// The label of a body that is not a transaction object at all.
pub const JSON: &str = "json";

/// Parses and checks a message or request body.
pub fn parse_transaction(body: &[u8]) -> Result<Transaction, Rejection> {
    // The plain parse is the fast path; only a failure is parsed again to name its field.
    let txn: Transaction = match serde_json::from_slice(body) {
        Ok(t) => t,
        Err(_) => return Err(json_rejection(body)),
    };
    validate(&txn)?;
    Ok(txn)
}

fn json_rejection(body: &[u8]) -> Rejection {
    let mut de = serde_json::Deserializer::from_slice(body);
    let err = match serde_path_to_error::deserialize::<_, Transaction>(&mut de) {
        Ok(_) => return Rejection::new(JSON, "trailing characters after the transaction"),
        Err(e) => e,
    };
    let path = err.path().to_string();
    // `items[3].quantity` -> `items.quantity`: labels must not grow with the input.
    let mut label = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => label.push(c),
            _ => {}
        }
    }
    let field = FIELDS.iter().copied().find(|f| *f == label).unwrap_or(JSON);
    let inner = err.into_inner();
    if field == JSON {
        Rejection::new(JSON, format!("not a transaction: {inner} (at {path})"))
    } else {
        Rejection {
            field,
            message: format!("{path}: {inner}"),
        }
    }
}

pub fn validate(txn: &Transaction) -> Result<(), Rejection> {
    check_id(&txn.id)?;
    purchase_time(&txn.time)?;
    check_entity_id("customer.id", txn.customer.id)?;
    check_text("customer.name", &txn.customer.name, MAX_TEXT_LEN)?;
    check_location(&txn.customer.location, &CUSTOMER_LOCATION)?;
    check_entity_id("store.id", txn.store.id)?;
    check_text("store.name", &txn.store.name, MAX_TEXT_LEN)?;
    check_location(&txn.store.location, &STORE_LOCATION)?;
    if txn.items.is_empty() || txn.items.len() > MAX_ITEMS {
        return Err(Rejection::new(
            "items",
            format!("needs 1 to {MAX_ITEMS} line items, got {}", txn.items.len()),
        ));
    }
    let mut sum: u64 = 0;
    for (i, item) in txn.items.iter().enumerate() {
        let at = |field: &'static str, what: String| Rejection {
            field,
            message: format!("items[{i}].{}: {what}", &field["items.".len()..]),
        };
        if item.sku.is_empty() {
            return Err(at("items.sku", "must not be empty".into()));
        }
        for (field, value, max) in [
            ("items.sku", &item.sku, MAX_SKU_LEN),
            ("items.category", &item.category, MAX_TEXT_LEN),
            ("items.brand", &item.brand, MAX_TEXT_LEN),
            ("items.description", &item.description, MAX_TEXT_LEN),
        ] {
            text_problem(value, max).map_or(Ok(()), |p| Err(at(field, p)))?;
        }
        if item.price_cents > MAX_PRICE_CENTS {
            return Err(at(
                "items.price_cents",
                format!("{} is above the limit {MAX_PRICE_CENTS}", item.price_cents),
            ));
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(at(
                "items.quantity",
                format!("{} is not within 1..={MAX_QUANTITY}", item.quantity),
            ));
        }
        // Both factors are bounded above, so neither this nor the sum can overflow u64.
        sum += item.price_cents * u64::from(item.quantity);
    }
    if txn.total_cents > MAX_TOTAL_CENTS {
        return Err(Rejection::new(
            "total_cents",
            format!("{} is above the limit {MAX_TOTAL_CENTS}", txn.total_cents),
        ));
    }
    if sum != txn.total_cents {
        return Err(Rejection::new(
            "total_cents",
            format!("{} does not match the items' sum {sum}", txn.total_cents),
        ));
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Rejection::new(
            "id",
            format!("must be 1 to {MAX_ID_LEN} characters"),
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(Rejection::new(
            "id",
            "may contain only letters, digits and - _ . :",
        ));
    }
    Ok(())
}

/// The purchase time, parsed: RFC 3339 in its extended form (`2026-01-02T03:04:05Z`, a
/// fraction and a `+hh:mm` offset allowed), from [`EARLIEST_TIME`] up to [`end_time`].
pub fn purchase_time(time: &str) -> Result<jiff::Timestamp, Rejection> {
    let refuse = || {
        Rejection::new(
            "time",
            format!("{time:?} is not an RFC 3339 timestamp like 2026-01-02T03:04:05Z"),
        )
    };
    let b = time.as_bytes();
    let shaped = (20..=35).contains(&b.len())
        && b[4] == b'-'
        && b[10] == b'T'
        && b.iter()
            .all(|c| c.is_ascii_digit() || b"-:.TZ+".contains(c));
    if !shaped {
        return Err(refuse());
    }
    let ts: jiff::Timestamp = time.parse().map_err(|_| refuse())?;
    if ts < EARLIEST_TIME || ts >= end_time() {
        return Err(Rejection::new(
            "time",
            format!("{time} is outside 1970-01-01T00:00:00Z up to 9999-01-01T00:00:00Z"),
        ));
    }
    Ok(ts)
}

fn check_entity_id(field: &'static str, id: u64) -> Result<(), Rejection> {
    if id == 0 || id > MAX_ENTITY_ID {
        return Err(Rejection::new(
            field,
            format!("{id} is not within 1..={MAX_ENTITY_ID}"),
        ));
    }
    Ok(())
}

/// Why a text field cannot be stored, if it cannot: too long, or a control character
/// (PostgreSQL text cannot hold NUL; none of them belongs in a name).
fn text_problem(value: &str, max: usize) -> Option<String> {
    if value.chars().count() > max {
        return Some(format!("longer than {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Some("contains a control character".into());
    }
    None
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), Rejection> {
    text_problem(value, max).map_or(Ok(()), |p| Err(Rejection::new(field, p)))
}

struct LocationFields {
    zip: &'static str,
    city: &'static str,
    state: &'static str,
}
const CUSTOMER_LOCATION: LocationFields = LocationFields {
    zip: "customer.location.zip",
    city: "customer.location.city",
    state: "customer.location.state",
};
const STORE_LOCATION: LocationFields = LocationFields {
    zip: "store.location.zip",
    city: "store.location.city",
    state: "store.location.state",
};

fn check_location(loc: &Location, fields: &LocationFields) -> Result<(), Rejection> {
    let z = loc.zip.as_bytes();
    let zip_ok = match z.len() {
        5 => z.iter().all(u8::is_ascii_digit),
        10 => z[5] == b'-' && z[..5].iter().chain(&z[6..]).all(u8::is_ascii_digit),
        _ => false,
    };
    if !zip_ok {
        return Err(Rejection::new(
            fields.zip,
            format!("{:?} is not a ZIP code (12345 or 12345-6789)", loc.zip),
        ));
    }
    check_text(fields.city, &loc.city, MAX_TEXT_LEN)?;
    check_state(&loc.state).map_err(|m| Rejection::new(fields.state, m))
}

/// A state code of the embedded geography: the 50 states and DC, upper case. Territories
/// (PR, GU, VI, AS, MP) have no stores in the model, and every accepted code is a topic, so
/// the set is closed.
pub fn check_state(state: &str) -> Result<(), String> {
    if geo::state_index(state).is_some() {
        Ok(())
    } else {
        Err(format!(
            "{state:?} is not one of the 50 states or DC (upper-case USPS code; territories are not in the geography)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Customer, LineItem, Store};

    pub fn sample() -> Transaction {
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
    fn json_errors_name_their_field() {
        let r = parse_transaction(b"{").unwrap_err();
        assert_eq!(r.field, JSON, "{r}");
        let mut v = serde_json::to_value(sample()).unwrap();
        v["extra"] = 1.into();
        assert_eq!(
            parse_transaction(v.to_string().as_bytes())
                .unwrap_err()
                .field,
            JSON
        );
        for (path, value, field) in [
            (
                "/items/1/price_cents",
                serde_json::json!(1.5),
                "items.price_cents",
            ),
            ("/items/0/quantity", serde_json::json!(-1), "items.quantity"),
            (
                "/store/id",
                serde_json::json!(18446744073709551616.0),
                "store.id",
            ),
            ("/customer/id", serde_json::json!("7"), "customer.id"),
            ("/total_cents", serde_json::json!(6e2), "total_cents"),
            (
                "/store/location/state",
                serde_json::json!(null),
                "store.location.state",
            ),
        ] {
            let mut v = serde_json::to_value(sample()).unwrap();
            *v.pointer_mut(path).unwrap() = value;
            let r = parse_transaction(v.to_string().as_bytes()).unwrap_err();
            assert_eq!(r.field, field, "{r}");
            assert!(r.message.starts_with(&field[..4]), "{r}");
        }
        let r = parse_transaction(br#"{"id":"a","id":"b"}"#).unwrap_err();
        assert_eq!(r.field, JSON, "{r}");
    }

    #[test]
    fn rejects_each_boundary_with_its_field() {
        type Case = (fn(&mut Transaction), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (|t| t.id.clear(), "id", "1 to"),
            (|t| t.id = "x".repeat(MAX_ID_LEN + 1), "id", "1 to"),
            (|t| t.id = "a b".into(), "id", "may contain"),
            (|t| t.time = "yesterday".into(), "time", "RFC 3339"),
            (
                |t| t.time = "0000-01-01T00:00:00Z".into(),
                "time",
                "outside",
            ),
            (
                |t| t.time = "1969-12-31T23:59:59Z".into(),
                "time",
                "outside",
            ),
            (
                |t| t.time = "9999-01-01T00:00:00Z".into(),
                "time",
                "outside",
            ),
            (
                |t| t.time = "9999-12-31T23:59:59Z".into(),
                "time",
                "RFC 3339",
            ),
            (
                |t| t.time = "2026-01-02T03:04:05Z[UTC]".into(),
                "time",
                "RFC 3339",
            ),
            (
                |t| t.time = "2026-01-02 03:04:05Z".into(),
                "time",
                "RFC 3339",
            ),
            (|t| t.store.id = 0, "store.id", "not within"),
            (|t| t.store.id = (1 << 63) + 5, "store.id", "not within"),
            (|t| t.customer.id = u64::MAX, "customer.id", "not within"),
            (
                |t| t.customer.name = "n".repeat(201),
                "customer.name",
                "longer",
            ),
            (|t| t.store.name = "a\0b".into(), "store.name", "control"),
            (
                |t| t.store.location.state = "ZZ".into(),
                "store.location.state",
                "50 states",
            ),
            (
                |t| t.store.location.state = "PR".into(),
                "store.location.state",
                "territories",
            ),
            (
                |t| t.customer.location.state = "ma".into(),
                "customer.location.state",
                "50 states",
            ),
            (
                |t| t.customer.location.zip = "2139".into(),
                "customer.location.zip",
                "ZIP",
            ),
            (
                |t| t.store.location.city = "\u{85}".into(),
                "store.location.city",
                "control",
            ),
            (|t| t.items.clear(), "items", "1 to"),
            (
                |t| t.items = vec![t.items[1].clone(); MAX_ITEMS + 1],
                "items",
                "1 to",
            ),
            (
                |t| t.items[0].quantity = 0,
                "items.quantity",
                "items[0].quantity",
            ),
            (
                |t| t.items[1].quantity = MAX_QUANTITY + 1,
                "items.quantity",
                "not within",
            ),
            (|t| t.items[1].sku.clear(), "items.sku", "items[1].sku"),
            (
                |t| t.items[0].sku = "s".repeat(MAX_SKU_LEN + 1),
                "items.sku",
                "longer",
            ),
            (|t| t.items[0].brand = "\t".into(), "items.brand", "control"),
            (
                |t| t.items[0].price_cents = 1 << 63,
                "items.price_cents",
                "above",
            ),
            (|t| t.total_cents += 1, "total_cents", "does not match"),
            (
                |t| t.total_cents = MAX_TOTAL_CENTS + 1,
                "total_cents",
                "above",
            ),
        ];
        for (mutate, field, reason) in cases {
            let mut t = sample();
            mutate(&mut t);
            let err = validate(&t).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(
                err.message.contains(reason),
                "{err:?} should mention {reason:?}"
            );
            assert!(FIELDS.contains(&err.field));
        }
    }

    #[test]
    fn accepts_the_edges_of_every_range() {
        let mut t = sample();
        t.time = "9998-12-31T23:59:59.999999999Z".into();
        t.store.id = MAX_ENTITY_ID;
        t.customer.location.zip = "02139-4307".into();
        t.customer.name = "Zoë ".repeat(50);
        t.items = vec![t.items[0].clone(); MAX_ITEMS];
        for item in &mut t.items {
            item.price_cents = MAX_PRICE_CENTS / 1000;
            item.quantity = 1000;
        }
        t.total_cents = MAX_TOTAL_CENTS;
        validate(&t).unwrap();
        t.time = "1970-01-01T00:00:00+00:00".into();
        t.store.location.state = "DC".into();
        validate(&t).unwrap();
        assert_eq!(
            purchase_time("2026-01-02T03:04:05.123456789+05:30")
                .unwrap()
                .to_string(),
            "2026-01-01T21:34:05.123456789Z"
        );
    }
}
