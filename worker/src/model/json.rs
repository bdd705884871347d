//! The `next_json` fast path: transactions assembled from JSON fragments serialised once by
//! serde_json in `Generator::new` (locations, stores, catalogue items), so the bytes match
//! `serde_json::to_vec(&Transaction)` while a transaction costs a few copies and integers.
use super::catalog::{Catalog, CATEGORIES};
use super::geo::CITIES;
use super::StoreSite;
use crate::transaction::{LineItem, Location, Store};

pub struct Fragments {
    /// Per city: `{"zip":..,"city":..,"state":..}`.
    locations: Vec<Box<[u8]>>,
    /// Per store: `,"store":{..},"items":[`.
    stores: Vec<Box<[u8]>>,
    /// Per variant: the item object up to and including `"quantity":`.
    items: Vec<Box<[u8]>>,
}

/// The transaction being written, by reference into the generator's tables.
pub struct Current<'a, L> {
    pub id: &'a str,
    pub time: &'a str,
    pub customer_id: u64,
    pub customer_name: &'a str,
    pub customer_city: usize,
    pub store: usize,
    /// (variant, quantity)
    pub lines: L,
    pub total_cents: u64,
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("plain data serialises")
}

fn location(city: usize) -> Location {
    let c = &CITIES[city];
    Location {
        zip: c.zip.to_owned(),
        city: c.name.to_owned(),
        state: c.state.to_owned(),
    }
}

impl Fragments {
    pub fn new(stores: &[StoreSite], catalog: &Catalog) -> Fragments {
        let locations = (0..CITIES.len())
            .map(|c| to_json(&location(c)).into_boxed_slice())
            .collect();
        let stores = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut f = b",\"store\":".to_vec();
                f.extend(to_json(&Store {
                    id: i as u64 + 1,
                    name: s.name.to_string(),
                    location: location(usize::from(s.city)),
                }));
                f.extend_from_slice(b",\"items\":[");
                f.into_boxed_slice()
            })
            .collect();
        let items = catalog
            .variants
            .iter()
            .map(|v| {
                let mut f = to_json(&LineItem {
                    sku: v.sku.to_string(),
                    category: CATEGORIES[v.category].name.to_owned(),
                    brand: v.brand.to_owned(),
                    description: v.description.to_string(),
                    price_cents: v.price_cents,
                    quantity: 0,
                });
                // Cut the placeholder quantity and the closing brace.
                assert!(f.ends_with(b":0}"), "quantity is the item's last field");
                f.truncate(f.len() - 2);
                f.into_boxed_slice()
            })
            .collect();
        Fragments {
            locations,
            stores,
            items,
        }
    }

    /// Appends the transaction's JSON to `buf`, field by field in `Transaction`'s order.
    pub fn write<L: Iterator<Item = (usize, u32)>>(&self, buf: &mut Vec<u8>, tx: Current<'_, L>) {
        // Ids and times are hex digits, digits and punctuation: nothing to escape.
        buf.extend_from_slice(b"{\"id\":\"");
        buf.extend_from_slice(tx.id.as_bytes());
        buf.extend_from_slice(b"\",\"time\":\"");
        buf.extend_from_slice(tx.time.as_bytes());
        buf.extend_from_slice(b"\",\"customer\":{\"id\":");
        push_u64(buf, tx.customer_id);
        buf.extend_from_slice(b",\"name\":");
        push_str(buf, tx.customer_name);
        buf.extend_from_slice(b",\"location\":");
        buf.extend_from_slice(&self.locations[tx.customer_city]);
        buf.push(b'}');
        buf.extend_from_slice(&self.stores[tx.store]);
        for (i, (variant, quantity)) in tx.lines.enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(&self.items[variant]);
            push_u64(buf, u64::from(quantity));
            buf.push(b'}');
        }
        buf.extend_from_slice(b"],\"total_cents\":");
        push_u64(buf, tx.total_cents);
        buf.push(b'}');
    }
}

/// A JSON string: copied as is when nothing needs escaping (the usual case), else by serde_json.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        serde_json::to_writer(&mut *buf, s).expect("writing JSON to a Vec cannot fail");
    }
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_match_serde_json() {
        for s in [
            "",
            "Ann O'Brien",
            "quote \" and \\ back",
            "tab\there",
            "Zoë",
            "\u{7f}",
        ] {
            let mut buf = Vec::new();
            push_str(&mut buf, s);
            assert_eq!(buf, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        for v in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut buf = Vec::new();
            push_u64(&mut buf, v);
            assert_eq!(buf, serde_json::to_vec(&v).unwrap());
        }
    }
}
