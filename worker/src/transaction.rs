//! The retail transaction that flows through the whole system (JSON on the wire).
use serde::{Deserialize, Serialize};

/// Topic the order service produces to.
pub const TRANSACTIONS_TOPIC: &str = "transactions";

/// Where the router and the sinks put messages they cannot route or store, with the reason
/// and the source position in headers (see `dead_letter`).
pub const DEAD_LETTER_TOPIC: &str = "transactions.dead-letter";

/// The per-state topic the router writes a transaction of `state` (two-letter code) to.
pub fn state_topic(state: &str) -> String {
    format!("{TRANSACTIONS_TOPIC}.{}", state.to_ascii_lowercase())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    /// Unique and deterministic for a given seed.
    pub id: String,
    /// RFC 3339 purchase time (simulated clock).
    pub time: String,
    pub customer: Customer,
    pub store: Store,
    pub items: Vec<LineItem>,
    /// Sum of the items' `price_cents * quantity`.
    pub total_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: u64,
    pub name: String,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub id: u64,
    pub name: String,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub zip: String,
    pub city: String,
    /// Two-letter US state code, upper case.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    pub sku: String,
    pub category: String,
    pub brand: String,
    pub description: String,
    pub price_cents: u64,
    pub quantity: u32,
}
