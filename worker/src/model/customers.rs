//! Households: names, pets, and the purchasing parameters that make each one different.
use rand::Rng;
use rand_distr::{weighted::WeightedAliasIndex, Distribution, Gamma};

use super::catalog::{CategorySpec, Kind, Species};

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Michelle",
    "Joshua",
    "Amanda",
    "Kevin",
    "Melissa",
    "Brian",
    "Stephanie",
    "Jose",
    "Maria",
    "Luis",
    "Ana",
    "Wei",
    "Mei",
    "Ahmed",
    "Fatima",
    "Raj",
    "Priya",
    "Kenji",
    "Yuki",
    "Olga",
    "Ivan",
    "Kwame",
    "Amara",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Chen",
    "Patel",
    "Kim",
    "Singh",
    "O'Brien",
    "Kowalski",
];

/// Households with 1, 2, 3 or 4 pets.
const PET_COUNT_WEIGHTS: [f64; 4] = [0.55, 0.28, 0.12, 0.05];
/// Species of each pet (dog, cat, fish, bird, small animal).
const SPECIES_WEIGHTS: [f64; 5] = [0.42, 0.36, 0.09, 0.06, 0.07];
/// Chance that a household habitually uses a consumable beyond each species' main food.
const ADOPTION: f64 = 0.6;

/// A consumable a household keeps in stock, and when it runs out.
#[derive(Debug, Clone, Copy)]
pub struct Stock {
    pub category: u16,
    /// Pets of the category's species in the household.
    pub pets: u8,
    /// When the stock runs out (simulated ms); `u64::MAX` for products bought only on a whim.
    pub exhaust_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Household {
    pub store: u32,
    pub city: u16,
    pub name: Box<str>,
    /// Bit set of owned species ([`Species::bit`]).
    pub mask: u8,
    /// Probability of buying the preferred variant rather than any variant of a category.
    pub loyalty: f32,
    /// Mean days between trips not triggered by running out.
    pub impulse_mean_days: f32,
    /// Days of supply bought when restocking.
    pub stock_days: f32,
    /// Seeds the preferred variant of each category.
    pub preference_seed: u64,
    /// This household's slice of the generator's stock table.
    pub stock_start: u32,
    pub stock_len: u8,
}

/// Samplers shared by all households, built once.
pub struct HouseholdSampler {
    first: WeightedAliasIndex<f64>,
    pet_count: WeightedAliasIndex<f64>,
    species: WeightedAliasIndex<f64>,
    impulse: Gamma<f64>,
}

impl HouseholdSampler {
    pub fn new() -> HouseholdSampler {
        HouseholdSampler {
            // Uniform names; an alias table keeps sampling O(1) like the others.
            first: WeightedAliasIndex::new(vec![1.0; FIRST_NAMES.len()]).expect("names"),
            pet_count: WeightedAliasIndex::new(PET_COUNT_WEIGHTS.to_vec()).expect("pet counts"),
            species: WeightedAliasIndex::new(SPECIES_WEIGHTS.to_vec()).expect("species"),
            // Mean 20 days between impulse trips, varying a lot between households.
            impulse: Gamma::new(2.0, 10.0).expect("gamma"),
        }
    }

    /// Draws a household shopping at `store` and living in `city`; appends its stock to `stock`,
    /// each consumable running out at a random point of its first supply period after
    /// `lead_days`.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        lead_days: f64,
        store: u32,
        city: u16,
        categories: &[CategorySpec],
        stock: &mut Vec<Stock>,
    ) -> Household {
        let first = FIRST_NAMES[rng.sample(&self.first)];
        let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
        let mut pets = [0u8; 5];
        for _ in 0..=rng.sample(&self.pet_count) {
            pets[rng.sample(&self.species)] += 1;
        }
        let mask = Species::ALL
            .iter()
            .filter(|s| pets[s.index()] > 0)
            .fold(0u8, |m, s| m | s.bit());
        let stock_days: f32 = rng.random_range(14.0..45.0);
        let day_ms = super::DAY_MS as f64;
        let stock_start = stock.len() as u32;
        for sp in Species::ALL.into_iter().filter(|s| pets[s.index()] > 0) {
            let mut main_food_seen = false;
            for (ci, cat) in categories.iter().enumerate() {
                if cat.species != sp || !cat.is_consumable() {
                    continue;
                }
                let main_food = cat.kind == Kind::Food && !main_food_seen;
                main_food_seen |= main_food;
                let habitual = main_food || rng.random_bool(ADOPTION);
                // Past the trigger lead time, so the first trips spread out from the epoch.
                let exhaust_ms = if habitual {
                    let days = lead_days + rng.random::<f64>() * f64::from(stock_days);
                    (days * day_ms) as u64
                } else {
                    u64::MAX
                };
                stock.push(Stock {
                    category: ci as u16,
                    pets: pets[sp.index()],
                    exhaust_ms,
                });
            }
        }
        Household {
            store,
            city,
            name: format!("{first} {last}").into(),
            mask,
            loyalty: rng.random_range(0.5..0.95),
            impulse_mean_days: self.impulse.sample(rng).max(2.0) as f32,
            stock_days,
            preference_seed: rng.random(),
            stock_start,
            stock_len: (stock.len() - stock_start as usize) as u8,
        }
    }
}
