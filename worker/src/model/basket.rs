//! Hidden-Markov basket model: hidden shopping intents walk a Markov chain until checkout and
//! each visited intent emits one product category, restricted to the household's species.
//! Consecutive items therefore share a purpose (restocking, treating, caring, equipping).
use rand::Rng;
use rand_distr::weighted::WeightedAliasIndex;

use super::catalog::{CategorySpec, Kind};

/// Hidden states of the walk (the last one, checkout, ends the basket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Restock,
    Treat,
    Care,
    Equip,
}

impl Intent {
    pub const ALL: [Intent; 4] = [Intent::Restock, Intent::Treat, Intent::Care, Intent::Equip];
    /// Index of the checkout column in [`TRANSITIONS`].
    const CHECKOUT: usize = 4;
}

/// Starting intent of a trip that was not triggered by running out of something.
const INITIAL: [f64; 4] = [0.45, 0.30, 0.15, 0.10];

/// Intent -> next intent (Restock, Treat, Care, Equip, Checkout).
const TRANSITIONS: [[f64; 5]; 4] = [
    [0.25, 0.25, 0.08, 0.07, 0.35],
    [0.10, 0.25, 0.08, 0.07, 0.50],
    [0.10, 0.15, 0.20, 0.05, 0.50],
    [0.05, 0.20, 0.05, 0.20, 0.50],
];

/// Intent -> weight of each category kind (Food, Supplies, Treats, Toys, Grooming, Health,
/// Habitat, Gear).
const EMISSIONS: [[f64; Kind::COUNT]; 4] = [
    [6.0, 3.0, 1.0, 0.0, 0.0, 0.5, 0.0, 0.0],
    [0.5, 0.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0, 4.0, 3.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 4.0],
];

/// Number of distinct species masks (5 species).
const MASKS: usize = 32;

/// Precomputed samplers: one transition table per intent and one emission table per
/// (species mask, intent); `None` where the household has nothing of that intent.
pub struct BasketModel {
    initial: WeightedAliasIndex<f64>,
    transitions: Vec<WeightedAliasIndex<f64>>,
    emissions: Vec<Option<(WeightedAliasIndex<f64>, Vec<usize>)>>,
}

impl BasketModel {
    pub fn new(categories: &[CategorySpec]) -> BasketModel {
        let initial = WeightedAliasIndex::new(INITIAL.to_vec()).expect("valid initial weights");
        let transitions = TRANSITIONS
            .iter()
            .map(|row| WeightedAliasIndex::new(row.to_vec()).expect("valid transition weights"))
            .collect();
        let mut emissions = Vec::with_capacity(MASKS * Intent::ALL.len());
        for mask in 0..MASKS {
            for weights in &EMISSIONS {
                let (cats, w): (Vec<usize>, Vec<f64>) = categories
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| mask & usize::from(c.species.bit()) != 0)
                    .map(|(i, c)| (i, weights[c.kind as usize]))
                    .filter(|&(_, w)| w > 0.0)
                    .unzip();
                emissions.push(WeightedAliasIndex::new(w).ok().map(|table| (table, cats)));
            }
        }
        BasketModel {
            initial,
            transitions,
            emissions,
        }
    }

    pub fn start<R: Rng + ?Sized>(&self, rng: &mut R) -> Intent {
        Intent::ALL[rng.sample(&self.initial)]
    }

    /// Next intent, or `None` at checkout.
    pub fn next<R: Rng + ?Sized>(&self, from: Intent, rng: &mut R) -> Option<Intent> {
        let to = rng.sample(&self.transitions[from as usize]);
        (to != Intent::CHECKOUT).then(|| Intent::ALL[to])
    }

    /// A category emitted by `intent` for a household with species `mask`.
    pub fn emit<R: Rng + ?Sized>(&self, mask: u8, intent: Intent, rng: &mut R) -> Option<usize> {
        let (table, cats) =
            self.emissions[usize::from(mask) * Intent::ALL.len() + intent as usize].as_ref()?;
        Some(cats[rng.sample(table)])
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::{Species, CATEGORIES};
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn tables_are_stochastic() {
        assert!((INITIAL.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for row in TRANSITIONS {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn emissions_respect_the_species_mask_and_intent() {
        let model = BasketModel::new(CATEGORIES);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mask = Species::Cat.bit() | Species::Fish.bit();
        for _ in 0..2000 {
            let c = model.emit(mask, Intent::Restock, &mut rng).unwrap();
            let cat = &CATEGORIES[c];
            assert!(matches!(cat.species, Species::Cat | Species::Fish));
            assert!(EMISSIONS[0][cat.kind as usize] > 0.0);
        }
        assert!(model.emit(0, Intent::Restock, &mut rng).is_none());
    }

    #[test]
    fn every_household_finds_something_for_every_intent() {
        let model = BasketModel::new(CATEGORIES);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for mask in 1..MASKS as u8 {
            for intent in Intent::ALL {
                assert!(
                    model.emit(mask, intent, &mut rng).is_some(),
                    "{mask:#b} {intent:?}"
                );
            }
        }
    }

    #[test]
    fn walks_end_at_checkout() {
        let model = BasketModel::new(CATEGORIES);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut total = 0;
        for _ in 0..1000 {
            let mut intent = Some(model.start(&mut rng));
            let mut steps = 0;
            while let Some(i) = intent {
                steps += 1;
                intent = model.next(i, &mut rng);
                assert!(steps < 200);
            }
            total += steps;
        }
        // Mean walk length is about 2 with these tables.
        let mean = f64::from(total) / 1000.0;
        assert!((1.5..3.0).contains(&mean), "mean walk {mean}");
    }
}
