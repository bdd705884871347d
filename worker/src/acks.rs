//! Acknowledged ids in Redis as bitmaps (pure): a generated id is a UUID whose first half is
//! its stream's prefix and whose second half carries the stream's counter (see
//! `model::format::transaction_id`), so an acknowledgement is one bit, bit n of the stream's
//! bitmap for its n-th transaction. A million acknowledgements take 125 kB instead of the
//! ~70 MB of a set of their ids, and the ids come back exactly from the bits.
use super::model::format::transaction_id;

/// Most transactions one stream can record: Redis bitmaps address 2^32 bits.
pub const MAX_COUNTER: u64 = u32::MAX as u64;

/// Where an acknowledged id goes: the bitmap key suffix (the id's first half, in hex) and
/// the bit. None for an id the generator did not make.
pub fn bit_of(id: &str) -> Option<(String, u64)> {
    let uuid = uuid::Uuid::try_parse(id).ok()?;
    if uuid.get_version_num() != 8 || uuid.hyphenated().to_string() != id {
        return None;
    }
    let (hi, lo) = uuid.as_u64_pair();
    let counter = lo & 0x3fff_ffff_ffff_ffff;
    (counter <= MAX_COUNTER).then(|| (format!("{hi:016x}"), counter))
}

/// The ids whose bits are set in a stream's bitmap (Redis numbers bits from the most
/// significant of the first byte).
pub fn ids_of(suffix: &str, bitmap: &[u8]) -> Result<Vec<String>, String> {
    let hi = u64::from_str_radix(suffix, 16)
        .map_err(|_| format!("ack bitmap suffix {suffix:?} is not a hex stream prefix"))?;
    let mut ids = Vec::new();
    for (byte_index, byte) in bitmap.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                let counter = byte_index as u64 * 8 + bit;
                ids.push(transaction_id(hi, counter).as_str().to_owned());
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_bits() {
        let ids: Vec<String> = [0u64, 1, 7, 8, 9, 1000]
            .iter()
            .map(|&c| transaction_id(0x0123_4567_89ab_cdef, c).as_str().to_owned())
            .collect();
        let mut bitmap = vec![0u8; 126];
        let mut suffix = String::new();
        for id in &ids {
            let (s, bit) = bit_of(id).unwrap();
            suffix = s;
            bitmap[(bit / 8) as usize] |= 0x80 >> (bit % 8);
        }
        assert_eq!(ids_of(&suffix, &bitmap).unwrap(), ids);
    }

    #[test]
    fn foreign_ids_have_no_bit() {
        assert_eq!(bit_of("t-1"), None);
        assert_eq!(bit_of("67e55044-10b1-426f-9247-bb680e5fe0c8"), None); // version 4
        let upper = transaction_id(0xabcd_ef00_abcd_ef00, 5)
            .as_str()
            .to_uppercase();
        assert_eq!(bit_of(&upper), None);
        let big = transaction_id(5, MAX_COUNTER + 1);
        assert_eq!(bit_of(big.as_str()), None);
        assert!(ids_of("zz", &[1]).is_err());
    }
}
