//! The product catalogue: categories per pet species, each expanded into variants
//! (brand x flavour/style x size), one SKU per variant.
//!
//! Brands and products are invented for Kapture. Consumable categories carry a daily usage per
//! pet, which drives when a household runs out and comes back to the store.

/// Pet species a household can own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Species {
    Dog,
    Cat,
    Fish,
    Bird,
    SmallAnimal,
}

impl Species {
    pub const ALL: [Species; 5] = [
        Species::Dog,
        Species::Cat,
        Species::Fish,
        Species::Bird,
        Species::SmallAnimal,
    ];

    /// Bit of this species in a household's species mask.
    pub const fn bit(self) -> u8 {
        1 << self as u8
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What a category is for; the shopping intents of the basket model emit kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Food,
    Supplies,
    Treats,
    Toys,
    Grooming,
    Health,
    Habitat,
    Gear,
}

impl Kind {
    pub const COUNT: usize = 8;
}

/// Static description of a category, expanded into variants by [`Catalog::build`].
pub struct CategorySpec {
    pub name: &'static str,
    /// Noun used in item descriptions ("Dry Dog Food", "Dog Toy").
    pub noun: &'static str,
    /// SKU prefix.
    pub code: &'static str,
    pub species: Species,
    pub kind: Kind,
    /// Units used per pet per day; 0 for durable goods.
    pub usage_per_pet_day: f64,
    /// Price of one unit (one package unit of the smallest sense: lb, can, oz, item) in cents.
    pub base_cents: f64,
    /// Brand name and price multiplier.
    pub brands: &'static [(&'static str, f64)],
    pub flavours: &'static [&'static str],
    /// Size label and amount of units in the package (a price factor for durable goods).
    pub sizes: &'static [(&'static str, f64)],
}

impl CategorySpec {
    pub fn is_consumable(&self) -> bool {
        self.usage_per_pet_day > 0.0
    }
}

use Kind::*;
use Species::*;

pub const CATEGORIES: &[CategorySpec] = &[
    // Dogs.
    CategorySpec {
        name: "Dry Dog Food",
        noun: "Dry Dog Food",
        code: "DDF",
        species: Dog,
        kind: Food,
        usage_per_pet_day: 0.6,
        base_cents: 250.0,
        brands: &[("Barkwell", 1.0), ("Hearthside", 1.3), ("Trailhound", 1.6)],
        flavours: &["Chicken & Rice", "Lamb & Barley", "Salmon & Sweet Potato"],
        sizes: &[("5 lb", 5.0), ("15 lb", 15.0), ("30 lb", 30.0)],
    },
    CategorySpec {
        name: "Wet Dog Food",
        noun: "Wet Dog Food",
        code: "WDF",
        species: Dog,
        kind: Food,
        usage_per_pet_day: 0.5,
        base_cents: 180.0,
        brands: &[("Barkwell", 1.0), ("Hearthside", 1.25)],
        flavours: &["Beef Stew", "Chicken Dinner", "Turkey Medley"],
        sizes: &[("12 cans", 12.0), ("24 cans", 24.0)],
    },
    CategorySpec {
        name: "Dog Treats",
        noun: "Dog Treats",
        code: "DTR",
        species: Dog,
        kind: Treats,
        usage_per_pet_day: 0.5,
        base_cents: 60.0,
        brands: &[("Barkwell", 1.0), ("Good Boy Bakery", 1.35)],
        flavours: &["Peanut Butter", "Bacon", "Sweet Potato"],
        sizes: &[("8 oz", 8.0), ("16 oz", 16.0)],
    },
    CategorySpec {
        name: "Dog Flea & Tick",
        noun: "Flea & Tick Treatment for Dogs",
        code: "DFT",
        species: Dog,
        kind: Health,
        usage_per_pet_day: 1.0 / 30.0,
        base_cents: 1500.0,
        brands: &[("Shieldpaw", 1.0), ("VetGuard", 1.4)],
        flavours: &["Small Breed", "Large Breed"],
        sizes: &[("3 doses", 3.0), ("6 doses", 6.0)],
    },
    CategorySpec {
        name: "Dog Toys",
        noun: "Dog Toy",
        code: "DTY",
        species: Dog,
        kind: Toys,
        usage_per_pet_day: 0.0,
        base_cents: 899.0,
        brands: &[("Barkwell", 1.0), ("Chewmaster", 1.4)],
        flavours: &["Rope Tug", "Squeaky Ball", "Chew Bone"],
        sizes: &[("Small", 1.0), ("Medium", 1.4), ("Large", 1.8)],
    },
    CategorySpec {
        name: "Dog Collars & Leashes",
        noun: "for Dogs",
        code: "DGR",
        species: Dog,
        kind: Gear,
        usage_per_pet_day: 0.0,
        base_cents: 1499.0,
        brands: &[("Trailhound", 1.0), ("Urban Tails", 1.5)],
        flavours: &["Nylon Collar", "Leather Collar", "Retractable Leash"],
        sizes: &[("Small", 1.0), ("Medium", 1.2), ("Large", 1.4)],
    },
    CategorySpec {
        name: "Dog Grooming",
        noun: "for Dogs",
        code: "DGM",
        species: Dog,
        kind: Grooming,
        usage_per_pet_day: 0.0,
        base_cents: 1099.0,
        brands: &[("Fresh Coat", 1.0), ("Hearthside", 1.3)],
        flavours: &["Oatmeal Shampoo", "Slicker Brush", "Nail Clipper"],
        sizes: &[("Standard", 1.0)],
    },
    CategorySpec {
        name: "Dog Beds & Crates",
        noun: "for Dogs",
        code: "DHB",
        species: Dog,
        kind: Habitat,
        usage_per_pet_day: 0.0,
        base_cents: 4999.0,
        brands: &[("Hearthside", 1.0), ("Urban Tails", 1.3)],
        flavours: &["Orthopedic Bed", "Wire Crate", "Travel Kennel"],
        sizes: &[("Medium", 1.0), ("Large", 1.5)],
    },
    // Cats.
    CategorySpec {
        name: "Dry Cat Food",
        noun: "Dry Cat Food",
        code: "CDF",
        species: Cat,
        kind: Food,
        usage_per_pet_day: 0.15,
        base_cents: 400.0,
        brands: &[("Whisker Farm", 1.0), ("Purrfect Day", 1.3)],
        flavours: &["Ocean Fish", "Chicken", "Indoor Formula"],
        sizes: &[("3.5 lb", 3.5), ("7 lb", 7.0), ("16 lb", 16.0)],
    },
    CategorySpec {
        name: "Wet Cat Food",
        noun: "Wet Cat Food",
        code: "CWF",
        species: Cat,
        kind: Food,
        usage_per_pet_day: 1.0,
        base_cents: 110.0,
        brands: &[("Whisker Farm", 1.0), ("Purrfect Day", 1.3)],
        flavours: &["Tuna Pate", "Chicken Shreds", "Salmon Feast"],
        sizes: &[("12 cans", 12.0), ("24 cans", 24.0)],
    },
    CategorySpec {
        name: "Cat Litter",
        noun: "Cat Litter",
        code: "CLT",
        species: Cat,
        kind: Supplies,
        usage_per_pet_day: 0.5,
        base_cents: 90.0,
        brands: &[("Clumpwell", 1.0), ("Whisker Farm", 1.2)],
        flavours: &["Clumping Clay", "Pine Pellet", "Crystal"],
        sizes: &[("10 lb", 10.0), ("20 lb", 20.0), ("40 lb", 40.0)],
    },
    CategorySpec {
        name: "Cat Treats",
        noun: "Cat Treats",
        code: "CTR",
        species: Cat,
        kind: Treats,
        usage_per_pet_day: 0.2,
        base_cents: 120.0,
        brands: &[("Purrfect Day", 1.0)],
        flavours: &["Catnip Crunch", "Tuna Bites"],
        sizes: &[("3 oz", 3.0), ("6 oz", 6.0)],
    },
    CategorySpec {
        name: "Cat Flea & Tick",
        noun: "Flea & Tick Treatment for Cats",
        code: "CFT",
        species: Cat,
        kind: Health,
        usage_per_pet_day: 1.0 / 30.0,
        base_cents: 1300.0,
        brands: &[("Shieldpaw", 1.0), ("VetGuard", 1.4)],
        flavours: &["Kitten", "Adult Cat"],
        sizes: &[("3 doses", 3.0), ("6 doses", 6.0)],
    },
    CategorySpec {
        name: "Cat Toys",
        noun: "Cat Toy",
        code: "CTY",
        species: Cat,
        kind: Toys,
        usage_per_pet_day: 0.0,
        base_cents: 599.0,
        brands: &[("Purrfect Day", 1.0), ("Pounce Lab", 1.3)],
        flavours: &["Feather Wand", "Catnip Mouse", "Laser Pointer"],
        sizes: &[("Standard", 1.0)],
    },
    CategorySpec {
        name: "Cat Scratchers & Trees",
        noun: "for Cats",
        code: "CHB",
        species: Cat,
        kind: Habitat,
        usage_per_pet_day: 0.0,
        base_cents: 2499.0,
        brands: &[("Pounce Lab", 1.0), ("Hearthside", 1.2)],
        flavours: &["Cardboard Scratcher", "Sisal Post", "Cat Tree"],
        sizes: &[("Small", 1.0), ("Large", 1.8)],
    },
    CategorySpec {
        name: "Cat Grooming",
        noun: "for Cats",
        code: "CGM",
        species: Cat,
        kind: Grooming,
        usage_per_pet_day: 0.0,
        base_cents: 999.0,
        brands: &[("Fresh Coat", 1.0)],
        flavours: &["Deshedding Comb", "Waterless Shampoo"],
        sizes: &[("Standard", 1.0)],
    },
    // Fish (one "pet" is one aquarium).
    CategorySpec {
        name: "Fish Food",
        noun: "Fish Food",
        code: "FFD",
        species: Fish,
        kind: Food,
        usage_per_pet_day: 0.05,
        base_cents: 500.0,
        brands: &[("Reef Basics", 1.0), ("Aquaflora", 1.3)],
        flavours: &["Tropical Flakes", "Goldfish Pellets", "Bloodworms"],
        sizes: &[("1 oz", 1.0), ("2 oz", 2.0), ("7 oz", 7.0)],
    },
    CategorySpec {
        name: "Aquarium Water Care",
        noun: "Aquarium Treatment",
        code: "FWC",
        species: Fish,
        kind: Supplies,
        usage_per_pet_day: 1.0 / 60.0,
        base_cents: 899.0,
        brands: &[("Reef Basics", 1.0), ("Aquaflora", 1.25)],
        flavours: &["Water Conditioner", "Bacteria Starter", "Algae Control"],
        sizes: &[("1 bottle", 1.0), ("3 bottles", 3.0)],
    },
    CategorySpec {
        name: "Aquariums & Filters",
        noun: "",
        code: "FHB",
        species: Fish,
        kind: Habitat,
        usage_per_pet_day: 0.0,
        base_cents: 3999.0,
        brands: &[("Reef Basics", 1.0), ("Aquaflora", 1.4)],
        flavours: &["Glass Tank", "Power Filter", "Aquarium Heater"],
        sizes: &[("10 gal", 1.0), ("29 gal", 2.2)],
    },
    CategorySpec {
        name: "Aquarium Decor",
        noun: "Aquarium Decor",
        code: "FGR",
        species: Fish,
        kind: Gear,
        usage_per_pet_day: 0.0,
        base_cents: 799.0,
        brands: &[("Aquaflora", 1.0)],
        flavours: &["Live Plant", "Castle Ornament", "Natural Gravel"],
        sizes: &[("Standard", 1.0)],
    },
    // Birds.
    CategorySpec {
        name: "Bird Seed",
        noun: "Bird Seed",
        code: "BSD",
        species: Bird,
        kind: Food,
        usage_per_pet_day: 0.1,
        base_cents: 300.0,
        brands: &[("Featherly", 1.0), ("Songbird Select", 1.3)],
        flavours: &["Parakeet Blend", "Cockatiel Mix", "Finch Blend"],
        sizes: &[("2 lb", 2.0), ("5 lb", 5.0), ("20 lb", 20.0)],
    },
    CategorySpec {
        name: "Bird Treats",
        noun: "Bird Treat Sticks",
        code: "BTR",
        species: Bird,
        kind: Treats,
        usage_per_pet_day: 0.1,
        base_cents: 350.0,
        brands: &[("Featherly", 1.0)],
        flavours: &["Honey", "Fruit & Nut"],
        sizes: &[("2 ct", 2.0), ("6 ct", 6.0)],
    },
    CategorySpec {
        name: "Bird Cages & Perches",
        noun: "for Birds",
        code: "BHB",
        species: Bird,
        kind: Habitat,
        usage_per_pet_day: 0.0,
        base_cents: 2999.0,
        brands: &[("Featherly", 1.0), ("Skyloft", 1.5)],
        flavours: &["Flight Cage", "Wood Perch", "Rope Swing"],
        sizes: &[("Small", 1.0), ("Large", 2.0)],
    },
    CategorySpec {
        name: "Bird Toys",
        noun: "Bird Toy",
        code: "BTY",
        species: Bird,
        kind: Toys,
        usage_per_pet_day: 0.0,
        base_cents: 499.0,
        brands: &[("Skyloft", 1.0)],
        flavours: &["Mirror Bell", "Foraging Ball"],
        sizes: &[("Standard", 1.0)],
    },
    CategorySpec {
        name: "Bird Health",
        noun: "for Birds",
        code: "BHL",
        species: Bird,
        kind: Health,
        usage_per_pet_day: 0.0,
        base_cents: 899.0,
        brands: &[("Featherly", 1.0)],
        flavours: &["Vitamin Drops", "Mite Spray"],
        sizes: &[("Standard", 1.0)],
    },
    // Small animals.
    CategorySpec {
        name: "Small Animal Food",
        noun: "",
        code: "SFD",
        species: SmallAnimal,
        kind: Food,
        usage_per_pet_day: 0.1,
        base_cents: 450.0,
        brands: &[("Burrow & Co", 1.0), ("Meadowgold", 1.3)],
        flavours: &["Rabbit Pellets", "Guinea Pig Pellets", "Hamster Mix"],
        sizes: &[("2 lb", 2.0), ("5 lb", 5.0)],
    },
    CategorySpec {
        name: "Hay",
        noun: "Hay",
        code: "SHY",
        species: SmallAnimal,
        kind: Food,
        usage_per_pet_day: 0.25,
        base_cents: 350.0,
        brands: &[("Meadowgold", 1.0), ("Burrow & Co", 1.1)],
        flavours: &["Timothy", "Orchard Grass", "Alfalfa"],
        sizes: &[("2 lb", 2.0), ("6 lb", 6.0), ("12 lb", 12.0)],
    },
    CategorySpec {
        name: "Small Animal Bedding",
        noun: "Bedding",
        code: "SBD",
        species: SmallAnimal,
        kind: Supplies,
        usage_per_pet_day: 0.5,
        base_cents: 65.0,
        brands: &[("Burrow & Co", 1.0)],
        flavours: &["Paper", "Aspen Shavings"],
        sizes: &[("10 L", 10.0), ("30 L", 30.0), ("56 L", 56.0)],
    },
    CategorySpec {
        name: "Small Animal Habitats",
        noun: "",
        code: "SHB",
        species: SmallAnimal,
        kind: Habitat,
        usage_per_pet_day: 0.0,
        base_cents: 3499.0,
        brands: &[("Burrow & Co", 1.0), ("Meadowgold", 1.2)],
        flavours: &["Hamster Cage", "Rabbit Hutch", "Exercise Wheel"],
        sizes: &[("Standard", 1.0)],
    },
    CategorySpec {
        name: "Small Animal Toys",
        noun: "for Small Animals",
        code: "STY",
        species: SmallAnimal,
        kind: Toys,
        usage_per_pet_day: 0.0,
        base_cents: 499.0,
        brands: &[("Burrow & Co", 1.0)],
        flavours: &["Chew Sticks", "Hideout Tunnel"],
        sizes: &[("Standard", 1.0)],
    },
    CategorySpec {
        name: "Small Animal Grooming",
        noun: "for Small Animals",
        code: "SGM",
        species: SmallAnimal,
        kind: Grooming,
        usage_per_pet_day: 0.0,
        base_cents: 799.0,
        brands: &[("Fresh Coat", 1.0)],
        flavours: &["Nail Trimmer", "Soft Brush"],
        sizes: &[("Standard", 1.0)],
    },
];

/// One sellable product: a (brand, flavour, size) of a category.
#[derive(Debug, Clone)]
pub struct Variant {
    pub category: usize,
    pub brand: &'static str,
    pub sku: Box<str>,
    pub description: Box<str>,
    pub price_cents: u64,
    /// Units in the package (lb, cans, doses...); a price factor for durable goods.
    pub amount: f64,
}

/// The expanded catalogue; variants of category `c` are `variants[ranges[c].0..ranges[c].1]`.
pub struct Catalog {
    pub variants: Vec<Variant>,
    pub ranges: Vec<(usize, usize)>,
}

/// Bulk packages are cheaper per unit: price grows as amount^0.85.
const BULK_EXPONENT: f64 = 0.85;

impl Catalog {
    pub fn build() -> Catalog {
        let mut variants = Vec::new();
        let mut ranges = Vec::with_capacity(CATEGORIES.len());
        for (ci, cat) in CATEGORIES.iter().enumerate() {
            let start = variants.len();
            for (bi, &(brand, brand_mult)) in cat.brands.iter().enumerate() {
                for (fi, flavour) in cat.flavours.iter().enumerate() {
                    // Later flavours/styles are the premium ones.
                    let flavour_mult = 1.0 + 0.05 * fi as f64;
                    for (si, &(size, amount)) in cat.sizes.iter().enumerate() {
                        let raw =
                            cat.base_cents * amount.powf(BULK_EXPONENT) * brand_mult * flavour_mult;
                        variants.push(Variant {
                            category: ci,
                            brand,
                            sku: format!("{}-{}{}{}", cat.code, bi + 1, fi + 1, si + 1).into(),
                            description: describe(brand, flavour, cat.noun, size).into(),
                            price_cents: shelf_price(raw),
                            amount,
                        });
                    }
                }
            }
            ranges.push((start, variants.len()));
        }
        Catalog { variants, ranges }
    }
}

fn describe(brand: &str, flavour: &str, noun: &str, size: &str) -> String {
    let mut s = format!("{brand} {flavour}");
    if !noun.is_empty() {
        s.push(' ');
        s.push_str(noun);
    }
    s.push_str(", ");
    s.push_str(size);
    s
}

/// Rounds to a shelf price ending in 9 cents (at least 99 cents).
fn shelf_price(raw_cents: f64) -> u64 {
    let tens = (raw_cents / 10.0).round().max(10.0) as u64;
    tens * 10 - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_species_has_food_and_skus_are_unique() {
        for sp in Species::ALL {
            assert!(
                CATEGORIES
                    .iter()
                    .any(|c| c.species == sp && c.kind == Kind::Food && c.is_consumable()),
                "{sp:?} has no food"
            );
        }
        let cat = Catalog::build();
        let mut skus: Vec<_> = cat.variants.iter().map(|v| v.sku.clone()).collect();
        let n = skus.len();
        skus.sort_unstable();
        skus.dedup();
        assert_eq!(skus.len(), n);
        assert_eq!(cat.ranges.len(), CATEGORIES.len());
        for &(a, b) in &cat.ranges {
            assert!(b > a);
        }
    }

    #[test]
    fn bigger_packages_cost_more_but_less_per_unit() {
        let cat = Catalog::build();
        let (a, _) = cat.ranges[0];
        let (small, big) = (&cat.variants[a], &cat.variants[a + 2]);
        assert_eq!(
            small.description.as_ref(),
            "Barkwell Chicken & Rice Dry Dog Food, 5 lb"
        );
        assert_eq!(big.sku.as_ref(), "DDF-113");
        assert!(big.price_cents > small.price_cents);
        assert!((big.price_cents as f64 / big.amount) < (small.price_cents as f64 / small.amount));
        assert!(cat.variants.iter().all(|v| v.price_cents % 10 == 9));
    }
}
