//! Drawing the stored columns of each customer row from its own seed.

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::activities::{activity_hash, activity_time, amount_cents, points as activity_points};
use super::hash::{SALT_ROW, created_before_epoch_s, row_hash};
use super::source::SourceInfo;
use crate::tenant::names::Dictionaries;
use crate::tenant::spec::ActivityKind;
use crate::time::SimTime;

pub(super) struct RowCtx<'a> {
    pub(super) row_key: u64,
    pub(super) dict: &'a Dictionaries,
    pub(super) sources: &'a [SourceInfo],
    pub(super) epoch: SimTime,
}

pub(super) struct RowColumns {
    pub(super) city: u16,
    pub(super) first: u16,
    pub(super) last: u16,
    pub(super) mask: u16,
    pub(super) spend_cents: u32,
    pub(super) purchases: u16,
    pub(super) last_purchase_s: u32,
    pub(super) points: u32,
}

impl RowCtx<'_> {
    /// Draws one customer row; fills its activity counts per source into `counts`.
    pub(super) fn row(&self, row: u32, counts: &mut [u8]) -> RowColumns {
        let mut rng = Pcg64Mcg::seed_from_u64(row_hash(self.row_key, row, SALT_ROW));
        let city = self.dict.pick_city(rng.next_u64());
        let words = self.dict.words(self.dict.country_of_city(city).locale);
        let first = rng.random_range(0..words.first.len()) as u16;
        let last = rng.random_range(0..words.last.len()) as u16;
        let mut mask = 0u16;
        for (s, src) in self.sources.iter().enumerate().take(16) {
            if rng.random_bool(src.coverage.clamp(0.0, 1.0)) {
                mask |= 1 << s;
            }
        }
        if mask == 0 && !self.sources.is_empty() {
            // A unified profile exists only because some source has a record of it.
            let best = (0..self.sources.len().min(16))
                .max_by(|&a, &b| {
                    self.sources[a]
                        .coverage
                        .total_cmp(&self.sources[b].coverage)
                })
                .unwrap_or(0);
            mask = 1 << best;
        }
        let created_s = created_before_epoch_s(self.row_key, row);
        let (mut spend, mut purchases, mut last_s, mut points) = (0i64, 0u32, u32::MAX, 0u32);
        for (s, src) in self.sources.iter().enumerate() {
            let Some(act) = &src.activity else { continue };
            if mask & (1 << s) == 0 {
                continue;
            }
            // Exponentially distributed counts: most customers buy a little, a few a lot.
            let u: f64 = rng.random();
            let c = (-act.per_customer * (1.0 - u).ln())
                .floor()
                .clamp(0.0, 255.0) as u32;
            counts[s] = c as u8;
            // Only amounts and points add up into the columns, so only they are drawn here (the
            // rest of an activity is drawn when it is served); which kinds have them is fixed
            // per source.
            match act.kind {
                ActivityKind::Purchase | ActivityKind::Return => {
                    for j in 0..c {
                        let h = activity_hash(self.row_key, row, s, j);
                        spend += amount_cents(h, act.kind).unwrap_or(0);
                    }
                    if act.kind == ActivityKind::Purchase && c > 0 {
                        purchases += c;
                        // Times never decrease with the ordinal: the last purchase is the last.
                        let j = c - 1;
                        let h = activity_hash(self.row_key, row, s, j);
                        let time = activity_time(h, self.epoch, j, c, created_s);
                        let before = ((self.epoch - time).as_millis() / 1000).max(0) as u32;
                        last_s = last_s.min(before);
                    }
                }
                ActivityKind::LoyaltyPoints => {
                    for j in 0..c {
                        points += activity_points(activity_hash(self.row_key, row, s, j), act.kind);
                    }
                }
                ActivityKind::EmailOpen | ActivityKind::WebVisit => {}
            }
        }
        RowColumns {
            city: city as u16,
            first,
            last,
            mask,
            spend_cents: spend.clamp(0, i64::from(u32::MAX)) as u32,
            purchases: purchases.min(u32::from(u16::MAX)) as u16,
            last_purchase_s: last_s,
            points,
        }
    }
}

pub(super) fn prefix_sums(counts: &[u8], per_row: usize) -> Vec<u64> {
    let rows = counts.len().checked_div(per_row).unwrap_or(0);
    let mut prefix = Vec::with_capacity(rows + 1);
    let mut total = 0u64;
    prefix.push(0);
    for row in 0..rows {
        total += counts[row * per_row..(row + 1) * per_row]
            .iter()
            .map(|&c| u64::from(c))
            .sum::<u64>();
        prefix.push(total);
    }
    prefix
}
