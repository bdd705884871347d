//! BigPetStore-style transaction generator (after Nowling et al., Apache Bigtop's
//! bigpetstore-data-generator): stores placed by population and income, households near their
//! store, pets driving product usage, purchase times from usage and trigger distributions on a
//! simulated clock, baskets from a hidden-Markov walk over shopping intents.
//!
//! Everything random comes from ChaCha8 seeded by [`GeneratorConfig::seed`], so the stream of
//! transactions is a pure function of the config. See docs/workload-model.md.
mod basket;
pub mod catalog;
mod customers;
pub(crate) mod format;
pub mod geo;
mod json;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{weighted::WeightedAliasIndex, Exp1};

use self::basket::{BasketModel, Intent};
use self::catalog::{Catalog, CATEGORIES};
use self::customers::{Household, HouseholdSampler, Stock};
use self::geo::{CITIES, STATES, US_MEDIAN_INCOME};
use crate::transaction::{Customer, LineItem, Location, Store, Transaction};

const DAY_MS: u64 = 86_400_000;
/// Households shop up to this long before something runs out (uniform trigger lead time).
const TRIGGER_LEAD_DAYS: f64 = 3.0;
/// On any trip, consumables running out within this horizon are restocked too.
const DUE_HORIZON_MS: u64 = 4 * DAY_MS;
/// Bound on the intent walk, and on distinct lines per basket.
const MAX_LINES: usize = 12;
/// Distance scale (km) of the preference for living close to the store.
const NEIGHBOURHOOD_SCALE_KM: f64 = 30.0;
/// Most packages of one consumable bought at once.
const MAX_PACKAGES: u32 = 6;

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub stores: usize,
    pub customers: usize,
    /// Start of the simulated clock, Unix milliseconds (default 2020-01-01T00:00:00Z).
    pub epoch_unix_ms: i64,
    /// Simulated time shown in `time` wraps after this many days, so timestamps stay in
    /// `[epoch, epoch + span)` however long the stream runs (default 1827: 2020-2024).
    pub span_days: u32,
    /// Store placement weight of a state is population x (income / US median)^elasticity.
    pub income_elasticity: f64,
    /// Households live in cities within this distance (km) of their store's city.
    pub neighbourhood_km: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            stores: 100,
            customers: 10_000,
            epoch_unix_ms: 1_577_836_800_000,
            span_days: 1827,
            income_elasticity: 1.0,
            neighbourhood_km: 100.0,
        }
    }
}

impl GeneratorConfig {
    /// Checks the ranges [`Generator::new`] relies on.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.stores >= 1, "generator needs at least one store");
        ensure!(self.customers >= 1, "generator needs at least one customer");
        ensure!(
            self.stores <= u32::MAX as usize && self.customers <= u32::MAX as usize,
            "generator supports at most {} stores and customers",
            u32::MAX
        );
        ensure!(
            self.span_days >= 1,
            "generator time span must be at least one day"
        );
        ensure!(
            self.epoch_unix_ms >= 0
                && self.epoch_unix_ms + i64::from(self.span_days) * DAY_MS as i64
                    <= crate::validation::END_UNIX_MS,
            "generator epoch and span must stay within 1970-01-01 and 9999-01-01 (what the order service accepts)"
        );
        ensure!(
            self.income_elasticity.is_finite(),
            "generator income elasticity must be finite"
        );
        ensure!(
            self.neighbourhood_km >= 0.0,
            "generator neighbourhood radius must not be negative"
        );
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct StoreSite {
    city: u16,
    name: Box<str>,
}

/// One line of the basket being built: a catalogue variant and a quantity.
#[derive(Debug, Clone, Copy)]
struct Line {
    variant: u32,
    quantity: u32,
}

pub struct Generator {
    config: GeneratorConfig,
    rng: ChaCha8Rng,
    catalog: Catalog,
    basket: BasketModel,
    stores: Vec<StoreSite>,
    households: Vec<Household>,
    stock: Vec<Stock>,
    json: json::Fragments,
    /// Next trip of every household: (simulated ms since epoch, household index).
    agenda: BinaryHeap<Reverse<(u64, u32)>>,
    id_prefix: u64,
    counter: u64,
    // The transaction being emitted, kept in place to avoid allocations.
    now_ms: u64,
    household: u32,
    lines: Vec<Line>,
}

impl Generator {
    /// Builds the world (stores, households, catalogue, samplers) for `config`.
    ///
    /// # Panics
    /// If `config` fails [`GeneratorConfig::validate`]; validate user input first.
    pub fn new(config: GeneratorConfig) -> Generator {
        if let Err(e) = config.validate() {
            panic!("invalid generator config: {e:#}");
        }
        // Independent ChaCha streams for the world and for the transaction stream.
        let mut world = ChaCha8Rng::seed_from_u64(config.seed);
        let mut rng = world.clone();
        rng.set_stream(1);
        let id_prefix: u64 = world.random();

        let stores = place_stores(&config, &mut world);
        let neighbours = Neighbourhoods::new(&stores, config.neighbourhood_km);
        let sampler = HouseholdSampler::new();
        let mut stock = Vec::new();
        let households: Vec<Household> = (0..config.customers)
            .map(|_| {
                let store = world.random_range(0..stores.len());
                let city = neighbours.sample(stores[store].city, &mut world);
                sampler.sample(
                    &mut world,
                    TRIGGER_LEAD_DAYS,
                    store as u32,
                    city,
                    CATEGORIES,
                    &mut stock,
                )
            })
            .collect();

        let catalog = Catalog::build();
        let mut generator = Generator {
            json: json::Fragments::new(&stores, &catalog),
            catalog,
            basket: BasketModel::new(CATEGORIES),
            agenda: BinaryHeap::with_capacity(households.len()),
            stores,
            households,
            stock,
            rng,
            config,
            id_prefix,
            counter: 0,
            now_ms: 0,
            household: 0,
            lines: Vec::with_capacity(MAX_LINES),
        };
        for h in 0..generator.households.len() {
            let at = generator.next_trip(h, 0);
            generator.agenda.push(Reverse((at, h as u32)));
        }
        generator
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The next transaction; the stream is a pure function of the config (same seed -> same
    /// stream).
    pub fn next_transaction(&mut self) -> Transaction {
        self.step();
        self.to_transaction()
    }

    /// Serialises the next transaction as JSON into `buf` (cleared first); the same bytes as
    /// `serde_json::to_vec(&next_transaction())`, assembled from JSON fragments precomputed in
    /// `new` without building any owned string.
    pub fn next_json(&mut self, buf: &mut Vec<u8>) {
        self.step();
        buf.clear();
        let hh = &self.households[self.household as usize];
        self.json.write(
            buf,
            json::Current {
                id: self.current_id().as_str(),
                time: self.current_time().as_str(),
                customer_id: u64::from(self.household) + 1,
                customer_name: &hh.name,
                customer_city: usize::from(hh.city),
                store: hh.store as usize,
                lines: self.lines.iter().map(|l| (l.variant as usize, l.quantity)),
                total_cents: self.current_total(),
            },
        );
    }

    /// Advances the simulation to the next trip and fills the basket.
    fn step(&mut self) {
        let Reverse((now, h)) = *self.agenda.peek().expect("at least one household");
        self.now_ms = now;
        self.household = h;
        self.fill_basket(h as usize, now);
        let next = self.next_trip(h as usize, now);
        // Replacing the top re-sifts once, cheaper than pop + push.
        *self.agenda.peek_mut().expect("at least one household") = Reverse((next, h));
        self.counter += 1;
    }

    /// When household `h` shops next after `now`: the earlier of an impulse trip (exponential
    /// inter-arrival at the household's own rate) and a trigger trip shortly before the first
    /// stocked consumable runs out.
    fn next_trip(&mut self, h: usize, now: u64) -> u64 {
        let hh = &self.households[h];
        let e: f64 = self.rng.sample(Exp1);
        let impulse = now + (e * f64::from(hh.impulse_mean_days) * DAY_MS as f64) as u64;
        let first_out = self.stock_of(hh).iter().map(|s| s.exhaust_ms).min();
        let lead = (self.rng.random::<f64>() * TRIGGER_LEAD_DAYS * DAY_MS as f64) as u64;
        let trigger = first_out.map_or(u64::MAX, |t| t.saturating_sub(lead));
        // Never the same instant twice for one household.
        impulse.min(trigger).max(now + 60_000)
    }

    fn stock_of(&self, hh: &Household) -> &[Stock] {
        let start = hh.stock_start as usize;
        &self.stock[start..start + usize::from(hh.stock_len)]
    }

    fn fill_basket(&mut self, h: usize, now: u64) {
        self.lines.clear();
        let (start, len) = {
            let hh = &self.households[h];
            (hh.stock_start as usize, usize::from(hh.stock_len))
        };
        // Triggered purchases: everything about to run out.
        for i in start..start + len {
            if self.stock[i].exhaust_ms <= now.saturating_add(DUE_HORIZON_MS) {
                let category = usize::from(self.stock[i].category);
                self.buy(h, category, now);
            }
        }
        // Then the intent walk; a restocking trip continues from the restock intent.
        let mask = self.households[h].mask;
        let mut intent = if self.lines.is_empty() {
            Some(self.basket.start(&mut self.rng))
        } else {
            self.basket.next(Intent::Restock, &mut self.rng)
        };
        let mut steps = 0;
        while let Some(i) = intent {
            if self.lines.len() >= MAX_LINES || steps >= MAX_LINES {
                break;
            }
            steps += 1;
            if let Some(category) = self.basket.emit(mask, i, &mut self.rng) {
                let present = self
                    .lines
                    .iter()
                    .any(|l| self.catalog.variants[l.variant as usize].category == category);
                // The first item of a trip is what brought the household in.
                if !present && (self.lines.is_empty() || !self.well_stocked(h, category, now)) {
                    self.buy(h, category, now);
                }
            }
            intent = self.basket.next(i, &mut self.rng);
        }
    }

    /// Index in `stock` of household `h`'s habitual supply of `category`.
    fn habitual_slot(&self, h: usize, category: usize) -> Option<usize> {
        let hh = &self.households[h];
        self.stock_of(hh)
            .iter()
            .position(|s| usize::from(s.category) == category && s.exhaust_ms != u64::MAX)
            .map(|p| hh.stock_start as usize + p)
    }

    /// A household with more than half its usual supply left does not buy more of it.
    fn well_stocked(&self, h: usize, category: usize, now: u64) -> bool {
        self.habitual_slot(h, category).is_some_and(|i| {
            let left_days = self.stock[i].exhaust_ms.saturating_sub(now) as f64 / DAY_MS as f64;
            left_days > f64::from(self.households[h].stock_days) / 2.0
        })
    }

    /// Adds a line of `category` for household `h`: the preferred variant with the household's
    /// loyalty, any other otherwise; habitual consumables in the quantity that tops the supply
    /// up to the household's usual number of days.
    fn buy(&mut self, h: usize, category: usize, now: u64) {
        let hh = &self.households[h];
        let (a, b) = self.catalog.ranges[category];
        let variant = if self.rng.random::<f32>() < hh.loyalty {
            a + (mix(hh.preference_seed ^ category as u64) % (b - a) as u64) as usize
        } else {
            self.rng.random_range(a..b)
        };
        let amount = self.catalog.variants[variant].amount;
        let stock_days = f64::from(hh.stock_days);
        let quantity = match self.habitual_slot(h, category) {
            Some(i) => {
                let daily = CATEGORIES[category].usage_per_pet_day * f64::from(self.stock[i].pets);
                let from = self.stock[i].exhaust_ms.max(now);
                let left_days = (from - now) as f64 / DAY_MS as f64;
                let missing = (stock_days - left_days).max(0.0) * daily;
                let packages = ((missing / amount).ceil() as u32).clamp(1, MAX_PACKAGES);
                let days = f64::from(packages) * amount / daily;
                self.stock[i].exhaust_ms = from + (days * DAY_MS as f64) as u64;
                packages
            }
            // Durable goods and whims: usually one, sometimes two.
            None => 1 + u32::from(self.rng.random_bool(0.15)),
        };
        self.lines.push(Line {
            variant: variant as u32,
            quantity,
        });
    }

    fn current_id(&self) -> format::Id {
        format::transaction_id(self.id_prefix, self.counter)
    }

    fn current_time(&self) -> format::Time {
        let span_ms = u64::from(self.config.span_days) * DAY_MS;
        format::rfc3339_millis(self.config.epoch_unix_ms + (self.now_ms % span_ms) as i64)
    }

    fn current_total(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| self.catalog.variants[l.variant as usize].price_cents * u64::from(l.quantity))
            .sum()
    }

    fn to_transaction(&self) -> Transaction {
        let hh = &self.households[self.household as usize];
        let store = &self.stores[hh.store as usize];
        Transaction {
            id: self.current_id().as_str().to_owned(),
            time: self.current_time().as_str().to_owned(),
            customer: Customer {
                id: u64::from(self.household) + 1,
                name: hh.name.to_string(),
                location: location(usize::from(hh.city)),
            },
            store: Store {
                id: u64::from(hh.store) + 1,
                name: store.name.to_string(),
                location: location(usize::from(store.city)),
            },
            items: self
                .lines
                .iter()
                .map(|l| {
                    let v = &self.catalog.variants[l.variant as usize];
                    LineItem {
                        sku: v.sku.to_string(),
                        category: CATEGORIES[v.category].name.to_owned(),
                        brand: v.brand.to_owned(),
                        description: v.description.to_string(),
                        price_cents: v.price_cents,
                        quantity: l.quantity,
                    }
                })
                .collect(),
            total_cents: self.current_total(),
        }
    }
}

fn location(city: usize) -> Location {
    let c = &CITIES[city];
    Location {
        zip: c.zip.to_owned(),
        city: c.name.to_owned(),
        state: c.state.to_owned(),
    }
}

impl Iterator for Generator {
    type Item = Transaction;

    /// Endless: a simulation always has a next trip.
    fn next(&mut self) -> Option<Transaction> {
        Some(self.next_transaction())
    }
}

/// SplitMix64 finaliser: a fixed, well-mixed hash for per-household preferences.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Store placement weight of each state: population x income factor.
fn state_weights(config: &GeneratorConfig) -> Vec<f64> {
    STATES
        .iter()
        .map(|s| {
            let income = f64::from(s.median_income) / f64::from(US_MEDIAN_INCOME);
            f64::from(s.population) * income.powf(config.income_elasticity)
        })
        .collect()
}

/// Places stores: a state by weight, then one of its cities by population.
fn place_stores(config: &GeneratorConfig, rng: &mut ChaCha8Rng) -> Vec<StoreSite> {
    let states = WeightedAliasIndex::new(state_weights(config)).expect("state weights");
    let by_state: Vec<(Vec<u16>, WeightedAliasIndex<f64>)> = STATES
        .iter()
        .map(|s| {
            let (idx, w): (Vec<u16>, Vec<f64>) = CITIES
                .iter()
                .enumerate()
                .filter(|(_, c)| c.state == s.code)
                .map(|(i, c)| (i as u16, f64::from(c.population_k)))
                .unzip();
            (
                idx,
                WeightedAliasIndex::new(w).expect("every state has cities"),
            )
        })
        .collect();
    let mut per_city = vec![0u32; CITIES.len()];
    (0..config.stores)
        .map(|_| {
            let (cities, weights) = &by_state[rng.sample(&states)];
            let city = cities[rng.sample(weights)];
            per_city[usize::from(city)] += 1;
            StoreSite {
                city,
                name: format!(
                    "Kapture Pets {} #{}",
                    CITIES[usize::from(city)].name,
                    per_city[usize::from(city)]
                )
                .into(),
            }
        })
        .collect()
}

/// For each city with a store: the cities within the radius, weighted by population and
/// closeness (the store's own city always included).
struct Neighbourhoods {
    tables: Vec<Option<(Vec<u16>, WeightedAliasIndex<f64>)>>,
}

impl Neighbourhoods {
    fn new(stores: &[StoreSite], radius_km: f64) -> Neighbourhoods {
        let mut tables: Vec<Option<(Vec<u16>, WeightedAliasIndex<f64>)>> = vec![None; CITIES.len()];
        for s in stores {
            let home = usize::from(s.city);
            if tables[home].is_some() {
                continue;
            }
            let (idx, w): (Vec<u16>, Vec<f64>) = CITIES
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let d = geo::distance_km(&CITIES[home], c);
                    (i == home || d <= radius_km).then(|| {
                        let w = f64::from(c.population_k) * (-d / NEIGHBOURHOOD_SCALE_KM).exp();
                        (i as u16, w.max(f64::MIN_POSITIVE))
                    })
                })
                .unzip();
            tables[home] = Some((idx, WeightedAliasIndex::new(w).expect("neighbour weights")));
        }
        Neighbourhoods { tables }
    }

    fn sample(&self, city: u16, rng: &mut ChaCha8Rng) -> u16 {
        let (idx, w) = self.tables[usize::from(city)]
            .as_ref()
            .expect("neighbourhood built for every store city");
        idx[rng.sample(w)]
    }
}

#[cfg(test)]
mod tests;
