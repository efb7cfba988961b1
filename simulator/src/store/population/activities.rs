//! Activities: each is recomputed from its coordinates (customer, source, ordinal) when it is
//! served, with times spread over the customer's life and amounts drawn from its hash.

use std::sync::LazyLock;

use super::hash::row_hash;
use crate::json::{push_json_str_inner, push_u64};
use crate::tenant::spec::ActivityKind;
use crate::time::{SimDuration, SimTime};

/// One activity, recomputed from its coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    pub customer: u32,
    pub source: usize,
    pub ordinal: u32,
    pub time: SimTime,
    /// Purchase or return amount in hundredths; `None` for other kinds.
    pub amount_cents: Option<i64>,
    /// Loyalty points earned; 0 for other kinds.
    pub points: u32,
    /// A per-activity random number for titles.
    pub variant: u64,
}

/// Packs an activity's coordinates for its id.
pub(super) fn code(a: &Activity) -> u64 {
    (u64::from(a.customer) << 24) | ((a.source as u64) << 16) | u64::from(a.ordinal)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the coordinates of an activity, passed flat on a hot path"
)]
pub(super) fn activity(
    row_key: u64,
    epoch: SimTime,
    row: u32,
    source: usize,
    ordinal: u32,
    count: u32,
    kind: ActivityKind,
    created_s: u32,
) -> Activity {
    let h = activity_hash(row_key, row, source, ordinal);
    Activity {
        customer: row,
        source,
        ordinal,
        time: activity_time(h, epoch, ordinal, count, created_s),
        amount_cents: amount_cents(h, kind),
        points: points(h, kind),
        variant: h >> 24,
    }
}

/// The hash every random part of an activity is drawn from.
pub(super) fn activity_hash(row_key: u64, row: u32, source: usize, ordinal: u32) -> u64 {
    row_hash(
        row_key,
        row,
        0x1000 + ((source as u64) << 20) + u64::from(ordinal),
    )
}

/// When activity `ordinal` of `count` happened, for a customer created `created_s` seconds
/// before the epoch.
///
/// Stratified times: activity j falls in slot j of the customer's life, so times increase with
/// the ordinal without sorting (never decrease: `ordinal + within` grows with the ordinal since
/// `within < 1`, and every step after it is monotonic).
pub(super) fn activity_time(
    h: u64,
    epoch: SimTime,
    ordinal: u32,
    count: u32,
    created_s: u32,
) -> SimTime {
    let slot = f64::from(created_s) / f64::from(count.max(1));
    let within = (h >> 11) as f64 / (1u64 << 53) as f64;
    let before_s = f64::from(created_s) - slot * (f64::from(ordinal) + within);
    epoch - SimDuration::from_millis((before_s.max(0.0) * 1000.0) as i64)
}

/// A purchase's or return's amount in hundredths (`None` for other kinds).
pub(super) fn amount_cents(h: u64, kind: ActivityKind) -> Option<i64> {
    match kind {
        ActivityKind::Purchase => Some(i64::from(CENTS[(h & 0xFFFF) as usize])),
        ActivityKind::Return => Some(-i64::from(CENTS[(h & 0xFFFF) as usize])),
        _ => None,
    }
}

/// The loyalty points an activity earned (0 for other kinds).
pub(super) fn points(h: u64, kind: ActivityKind) -> u32 {
    match kind {
        ActivityKind::LoyaltyPoints => 10 + ((h >> 20) % 491) as u32,
        _ => 0,
    }
}

/// Amounts are log-uniform between 8.00 and 400.00, drawn from 16 bits of the activity's hash:
/// `CENTS[u]` is `round(800 × 50^(u / 65536))`, computed once instead of a `powf` per activity
/// (generating a tenant draws one for every purchase and return; the largest is 39,998).
static CENTS: LazyLock<Box<[u16]>> = LazyLock::new(|| {
    (0..=u16::MAX)
        .map(|u| (800.0 * (50f64).powf(f64::from(u) / 65_536.0)).round() as u16)
        .collect()
});

/// Appends the JSON-escaped text of the title of activity `a` of kind `kind`.
pub(super) fn write_title(kind: ActivityKind, a: &Activity, out: &mut Vec<u8>) {
    let v = a.variant;
    match kind {
        ActivityKind::Purchase => {
            out.extend_from_slice(b"Order of ");
            push_u64(1 + v % 6, out);
            out.extend_from_slice(if v.is_multiple_of(6) {
                b" item"
            } else {
                b" items"
            });
        }
        ActivityKind::Return => {
            out.extend_from_slice(b"Return of ");
            push_u64(1 + v % 2, out);
            out.extend_from_slice(if v.is_multiple_of(2) {
                b" item"
            } else {
                b" items"
            });
        }
        ActivityKind::LoyaltyPoints => {
            out.extend_from_slice(b"Earned ");
            push_u64(u64::from(a.points), out);
            out.extend_from_slice(b" points");
        }
        ActivityKind::EmailOpen => {
            out.extend_from_slice(b"Opened: ");
            push_json_str_inner(CAMPAIGNS[(v % CAMPAIGNS.len() as u64) as usize], out);
        }
        ActivityKind::WebVisit => {
            out.extend_from_slice(b"Visited ");
            push_json_str_inner(PAGES[(v % PAGES.len() as u64) as usize], out);
        }
    }
}

const CAMPAIGNS: &[&str] = &[
    "Spring Sale",
    "Summer Collection",
    "Back to School",
    "Black Friday Preview",
    "Holiday Gift Guide",
    "New Year, New You",
    "Loyalty Double Points Week",
    "Member Exclusive Offers",
];

const PAGES: &[&str] = &[
    "/home",
    "/sale",
    "/new-arrivals",
    "/account",
    "/stores",
    "/gift-cards",
];
