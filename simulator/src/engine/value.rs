//! A business measure's value, and how numbers are written in views and payloads.

/// A business measure's value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MeasureValue {
    /// A measure without a dimension.
    Scalar(f64),
    /// A measure with a dimension: one value per dimension value (e.g. per country), in order.
    ByDimension(Vec<(String, f64)>),
}

impl MeasureValue {
    pub fn scalar(&self) -> Option<f64> {
        match self {
            MeasureValue::Scalar(v) => Some(*v),
            MeasureValue::ByDimension(_) => None,
        }
    }
}

/// The shortest text of a number that reads back the same (`1234`, `1234.5`).
pub(super) fn format_number(v: f64) -> String {
    format!("{v}")
}

/// A JSON number for a value: an integer when the value is whole, so `1000` stays `1000`.
pub(super) fn json_number(v: f64) -> serde_json::Number {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Number::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_print_without_a_fraction() {
        assert_eq!(format_number(1000.0), "1000");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(json_number(1000.0).to_string(), "1000");
        assert_eq!(json_number(0.25).to_string(), "0.25");
    }
}
