//! The first values of business measures, computed from the generated columns.

use super::Population;
use crate::tenant::spec::MeasureSource;

/// A customer is "active" with a purchase in the last 90 days.
const ACTIVE_WINDOW_S: u32 = 90 * 86_400;

impl Population {
    /// The first value of a business measure, computed from the data.
    pub fn measure_initial(&self, source: MeasureSource) -> f64 {
        let revenue = || {
            self.total_spend_cents
                .iter()
                .map(|&c| f64::from(c))
                .sum::<f64>()
                / 100.0
        };
        match source {
            MeasureSource::TotalRevenue => round2(revenue()),
            MeasureSource::ActiveCustomers => self
                .last_purchase_s
                .iter()
                .filter(|&&s| s <= ACTIVE_WINDOW_S)
                .count() as f64,
            MeasureSource::CustomerCount => f64::from(self.n),
            MeasureSource::AverageOrderValue => {
                let orders: f64 = self.purchase_count.iter().map(|&c| f64::from(c)).sum();
                if orders == 0.0 {
                    0.0
                } else {
                    round2(revenue() / orders)
                }
            }
        }
    }

    /// The first values of a business measure per country, in country-table order.
    pub fn measure_initial_by_country(&self, source: MeasureSource) -> Vec<(String, f64)> {
        let k = self.dict.countries.len();
        let (mut revenue, mut customers, mut active, mut orders) =
            (vec![0f64; k], vec![0f64; k], vec![0f64; k], vec![0f64; k]);
        for row in 0..self.n {
            let c = self.dict.cities[self.city_index(row)].country;
            revenue[c] += f64::from(self.total_spend_cents[row as usize]) / 100.0;
            customers[c] += 1.0;
            orders[c] += f64::from(self.purchase_count[row as usize]);
            if self.last_purchase_s[row as usize] <= ACTIVE_WINDOW_S {
                active[c] += 1.0;
            }
        }
        (0..k)
            .map(|c| {
                let v = match source {
                    MeasureSource::TotalRevenue => round2(revenue[c]),
                    MeasureSource::ActiveCustomers => active[c],
                    MeasureSource::CustomerCount => customers[c],
                    MeasureSource::AverageOrderValue if orders[c] > 0.0 => {
                        round2(revenue[c] / orders[c])
                    }
                    MeasureSource::AverageOrderValue => 0.0,
                };
                (self.dict.countries[c].name.to_owned(), v)
            })
            .collect()
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
