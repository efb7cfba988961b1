//! The encoding of every saved part: MessagePack with structs as maps (field names kept), so
//! that a field added later with a default reads back from an older file, and exact numbers
//! (floats bit for bit, instants as milliseconds).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes one part.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(value).map_err(|e| e.to_string())
}

/// Decodes one part.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{SimDuration, SimTime};

    #[test]
    fn instants_durations_and_floats_read_back_exactly() {
        let value = (
            SimTime(253_402_300_800_001),
            SimDuration(-5),
            0.1_f64 + 0.2,
            f64::NAN.to_bits(),
        );
        let back: (SimTime, SimDuration, f64, u64) = decode(&encode(&value).unwrap()).unwrap();
        assert_eq!(back.0, value.0);
        assert_eq!(back.1, value.1);
        assert_eq!(back.2.to_bits(), value.2.to_bits());
        assert_eq!(back.3, value.3);
    }

    #[test]
    fn a_part_of_another_shape_is_an_error_not_a_panic() {
        let bytes = encode(&("a", 1)).unwrap();
        assert!(decode::<Vec<u64>>(&bytes).is_err());
        assert!(decode::<u64>(b"\xc1").is_err());
    }
}
