use std::collections::{HashMap, HashSet};

use super::catalog::{Species, CATEGORIES};
use super::geo::{distance_km, state_index, City, CITIES, STATES};
use super::*;

fn generator(seed: u64, stores: usize, customers: usize) -> Generator {
    Generator::new(GeneratorConfig {
        seed,
        stores,
        customers,
        ..GeneratorConfig::default()
    })
}

fn city_of(loc: &Location) -> &'static City {
    CITIES
        .iter()
        .find(|c| c.state == loc.state && c.name == loc.city && c.zip == loc.zip)
        .unwrap_or_else(|| panic!("unknown location {loc:?}"))
}

#[test]
fn same_seed_gives_the_same_stream() {
    let a: Vec<_> = generator(7, 50, 2000).take(1000).collect();
    let b: Vec<_> = generator(7, 50, 2000).take(1000).collect();
    assert_eq!(a, b);
}

#[test]
fn different_seeds_give_different_streams() {
    let a: Vec<_> = generator(7, 50, 2000).take(1000).collect();
    let b: Vec<_> = generator(8, 50, 2000).take(1000).collect();
    let same = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.id == y.id || (x.customer == y.customer && x.items == y.items))
        .count();
    assert_eq!(same, 0);
}

#[test]
fn ids_are_unique_over_100k() {
    let mut g = generator(1, 100, 10_000);
    let mut buf = Vec::new();
    let mut ids = HashSet::with_capacity(100_000);
    for _ in 0..100_000 {
        g.next_json(&mut buf);
        let tx: Transaction = serde_json::from_slice(&buf).unwrap();
        assert!(ids.insert(tx.id), "duplicate id");
    }
}

#[test]
fn next_json_is_the_serde_json_of_next_transaction_and_round_trips() {
    let mut owned = generator(3, 100, 5000);
    let mut fast = generator(3, 100, 5000);
    let mut buf = Vec::new();
    for _ in 0..5000 {
        let tx = owned.next_transaction();
        fast.next_json(&mut buf);
        assert_eq!(buf, serde_json::to_vec(&tx).unwrap());
        // deny_unknown_fields on Transaction: the schema has exactly these fields.
        let back: Transaction = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back, tx);
    }
}

#[test]
fn totals_are_the_sum_of_items_and_baskets_are_sane() {
    let mut lines = 0usize;
    for tx in generator(4, 100, 5000).take(20_000) {
        assert!(!tx.items.is_empty());
        assert!(tx.items.len() <= MAX_LINES);
        let sum: u64 = tx
            .items
            .iter()
            .map(|i| i.price_cents * u64::from(i.quantity))
            .sum();
        assert_eq!(tx.total_cents, sum);
        assert!(tx
            .items
            .iter()
            .all(|i| i.quantity >= 1 && i.price_cents > 0));
        let skus: HashSet<_> = tx.items.iter().map(|i| &i.sku).collect();
        assert_eq!(skus.len(), tx.items.len(), "one line per product");
        lines += tx.items.len();
    }
    let mean = lines as f64 / 20_000.0;
    assert!((1.5..6.0).contains(&mean), "mean basket {mean}");
}

#[test]
fn state_shares_follow_store_weights() {
    let config = GeneratorConfig {
        seed: 11,
        stores: 6000,
        customers: 60_000,
        ..GeneratorConfig::default()
    };
    let weights = state_weights(&config);
    let total_weight: f64 = weights.iter().sum();
    let mut g = Generator::new(config);

    // Store placement: chi-square of store counts against the weights (50 degrees of freedom;
    // 100 is far in the tail, p < 1e-4).
    let mut stores = [0f64; 51];
    for s in &g.stores {
        stores[state_index(CITIES[usize::from(s.city)].state).unwrap()] += 1.0;
    }
    let n = g.stores.len() as f64;
    let chi2: f64 = stores
        .iter()
        .zip(&weights)
        .map(|(o, w)| {
            let e = n * w / total_weight;
            (o - e).powi(2) / e
        })
        .sum();
    assert!(chi2 < 100.0, "chi-square {chi2}");

    // Transactions: big states' shares within 8% of their stores' share and 15% of their
    // weight share (household activity varies, so transactions are noisier than stores).
    let mut counts = [0f64; 51];
    let total = 300_000;
    for _ in 0..total {
        let tx = g.next_transaction();
        counts[state_index(&tx.store.location.state).unwrap()] += 1.0;
    }
    for (i, s) in STATES.iter().enumerate() {
        let expected = weights[i] / total_weight;
        if expected > 0.03 {
            let share = counts[i] / f64::from(total);
            let store_share = stores[i] / n;
            let rel = |x: f64| (share - x).abs() / x;
            assert!(
                rel(store_share) < 0.08,
                "{}: {share:.4} vs stores {store_share:.4}",
                s.code
            );
            assert!(
                rel(expected) < 0.15,
                "{}: {share:.4} vs weight {expected:.4}",
                s.code
            );
        }
    }
}

#[test]
fn customers_live_near_their_store() {
    let g = generator(5, 300, 20_000);
    let radius = g.config.neighbourhood_km;
    let mut same_state = 0;
    for h in &g.households {
        let home = &CITIES[usize::from(h.city)];
        let store = &CITIES[usize::from(g.stores[h.store as usize].city)];
        let d = distance_km(home, store);
        assert!(d <= radius, "{} is {d} km from {}", home.name, store.name);
        same_state += usize::from(home.state == store.state);
    }
    assert!(same_state as f64 > 0.9 * g.households.len() as f64);
    // And transactions carry the same relation.
    for tx in generator(5, 300, 20_000).take(5000) {
        let d = distance_km(city_of(&tx.customer.location), city_of(&tx.store.location));
        assert!(d <= radius);
    }
}

#[test]
fn basket_categories_match_the_customers_pets() {
    let species: HashMap<&str, Species> = CATEGORIES.iter().map(|c| (c.name, c.species)).collect();
    let mut g = generator(6, 100, 5000);
    for _ in 0..20_000 {
        let tx = g.next_transaction();
        let h = &g.households[(tx.customer.id - 1) as usize];
        for item in &tx.items {
            let sp = species[item.category.as_str()];
            assert!(
                h.mask & sp.bit() != 0,
                "{} bought {}",
                tx.customer.name,
                item.category
            );
        }
    }
}

#[test]
fn restocking_follows_pet_consumption() {
    // Units of habitually used consumables bought over a year match what the pets use.
    let mut g = generator(9, 20, 300);
    let year = 365 * DAY_MS;
    let mut bought: HashMap<(u32, usize), f64> = HashMap::new();
    let mut trips = 0;
    loop {
        g.step();
        if g.now_ms >= year {
            break;
        }
        trips += 1;
        for l in &g.lines {
            let v = &g.catalog.variants[l.variant as usize];
            *bought.entry((g.household, v.category)).or_default() +=
                v.amount * f64::from(l.quantity);
        }
    }
    let (mut used, mut got) = (0.0, 0.0);
    for (h, hh) in g.households.iter().enumerate() {
        for s in g.stock_of(hh) {
            if s.exhaust_ms == u64::MAX {
                continue;
            }
            let cat = usize::from(s.category);
            used += CATEGORIES[cat].usage_per_pet_day * f64::from(s.pets) * 365.0;
            got += bought.get(&(h as u32, cat)).copied().unwrap_or(0.0);
        }
    }
    let ratio = got / used;
    assert!((0.85..1.25).contains(&ratio), "bought/used {ratio}");
    // Roughly weekly to monthly trips per household.
    let per_household = f64::from(trips) / 300.0;
    assert!(
        (10.0..60.0).contains(&per_household),
        "{per_household} trips a year"
    );
}

#[test]
fn times_advance_from_the_epoch_and_wrap_within_the_span() {
    let config = GeneratorConfig::default();
    let epoch = jiff::Timestamp::from_millisecond(config.epoch_unix_ms).unwrap();
    let mut prev = epoch;
    let mut distinct = HashSet::new();
    for tx in Generator::new(config).take(20_000) {
        let t: jiff::Timestamp = tx.time.parse().unwrap();
        assert!(t >= prev, "{t} before {prev}");
        prev = t;
        distinct.insert(tx.time);
    }
    assert!(prev > epoch);
    // Trips spread over the clock from the start, no burst at the epoch.
    assert!(distinct.len() > 19_000, "{} distinct times", distinct.len());

    let short = GeneratorConfig {
        span_days: 1,
        customers: 200,
        ..GeneratorConfig::default()
    };
    let end = short.epoch_unix_ms + DAY_MS as i64;
    let mut wrapped = false;
    let mut last = short.epoch_unix_ms;
    for tx in Generator::new(short).take(20_000) {
        let t = tx.time.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        assert!(t < end);
        wrapped |= t < last;
        last = t;
    }
    assert!(
        wrapped,
        "a 200-household world runs past one day in 20k trips"
    );
}

#[test]
fn invalid_configs_are_rejected() {
    let ok = GeneratorConfig::default();
    assert!(ok.validate().is_ok());
    for bad in [
        GeneratorConfig {
            stores: 0,
            ..ok.clone()
        },
        GeneratorConfig {
            customers: 0,
            ..ok.clone()
        },
        GeneratorConfig {
            span_days: 0,
            ..ok.clone()
        },
        GeneratorConfig {
            epoch_unix_ms: -1,
            ..ok.clone()
        },
        GeneratorConfig {
            epoch_unix_ms: format::MAX_UNIX_MS,
            ..ok.clone()
        },
        GeneratorConfig {
            neighbourhood_km: -1.0,
            ..ok.clone()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}
