//! Per-row hashes: every purely random field of a customer is recomputed from its row's hash
//! with a salt naming the field, so that it never needs to be stored.

use crate::ids::mix64;

pub(super) const SALT_ROW: u64 = 0x01;
pub(super) const SALT_EMAIL: u64 = 0x02;
pub(super) const SALT_PHONE: u64 = 0x03;
pub(super) const SALT_STREET: u64 = 0x04;
pub(super) const SALT_POSTCODE: u64 = 0x05;
pub(super) const SALT_BIRTH: u64 = 0x06;
pub(super) const SALT_GENDER: u64 = 0x07;
pub(super) const SALT_CREATED: u64 = 0x08;
pub(super) const SALT_SEGMENT: u64 = 0x100;

/// Customers are created during the five years before the data epoch.
const CREATED_SPAN_S: u64 = 5 * 365 * 86_400;

pub(super) fn row_hash(row_key: u64, row: u32, salt: u64) -> u64 {
    mix64(row_key ^ u64::from(row).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.rotate_left(40))
}

pub(super) fn created_before_epoch_s(row_key: u64, row: u32) -> u32 {
    // At least a day old, so that every activity lies strictly between creation and the epoch.
    (86_400 + row_hash(row_key, row, SALT_CREATED) % (CREATED_SPAN_S - 86_400)) as u32
}
