//! Prints a few generated rows of the demo tenant: `cargo run -p simulator --example sample_rows`.
use simulator::store::{CustomerField, Population};
use simulator::tenant::TenantSpec;

fn main() {
    let mut spec = TenantSpec::demo();
    spec.customers = 20;
    let pop = Population::generate(&spec, spec.seed);
    for row in 0..8 {
        let fields: Vec<String> = CustomerField::FIXED
            .iter()
            .chain([CustomerField::AltKey(0), CustomerField::AltKey(1)].iter())
            .map(|f| pop.customer_text(row, *f).unwrap_or_else(|| "null".into()))
            .collect();
        println!("{}", fields.join(" | "));
    }
}
