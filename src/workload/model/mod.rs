//! TEMPORARY stand-in for the generator model (branch `model`); deleted before merging it.
use super::transaction::{Customer, LineItem, Location, Store, Transaction};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub stores: usize,
    pub customers: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            stores: 100,
            customers: 1000,
        }
    }
}

pub struct Generator {
    cfg: GeneratorConfig,
    rng: ChaCha8Rng,
    n: u64,
}

const STATES: [&str; 6] = ["CA", "MA", "TX", "NY", "WA", "IL"];

impl Generator {
    pub fn new(cfg: GeneratorConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        Self { cfg, rng, n: 0 }
    }
    pub fn next_transaction(&mut self) -> Transaction {
        self.n += 1;
        let store = self.rng.random_range(0..self.cfg.stores as u64);
        let customer = self.rng.random_range(0..self.cfg.customers as u64);
        let state = STATES[(store % STATES.len() as u64) as usize];
        let loc = Location {
            zip: "02139".into(),
            city: "Town".into(),
            state: state.into(),
        };
        let price = self.rng.random_range(100..5000);
        Transaction {
            id: format!("{:016x}-{:010}", self.cfg.seed, self.n),
            time: "2026-01-01T00:00:00Z".into(),
            customer: Customer {
                id: customer,
                name: "C".into(),
                location: loc.clone(),
            },
            store: Store {
                id: store,
                name: "S".into(),
                location: loc,
            },
            items: vec![LineItem {
                sku: "sku".into(),
                category: "dog".into(),
                brand: "b".into(),
                description: "d".into(),
                price_cents: price,
                quantity: 1,
            }],
            total_cents: price,
        }
    }
    pub fn next_json(&mut self, buf: &mut Vec<u8>) {
        let t = self.next_transaction();
        serde_json::to_writer(buf, &t).expect("serialize");
    }
}

impl Iterator for Generator {
    type Item = Transaction;
    fn next(&mut self) -> Option<Transaction> {
        Some(self.next_transaction())
    }
}
