//! Writing a customer's fields: names, e-mail addresses, phones and streets in the style of the
//! customer's country, recomputed from the row's hash.

use super::Population;
use super::field::CustomerField;
use super::hash::{SALT_EMAIL, SALT_PHONE, SALT_POSTCODE, SALT_STREET};
use crate::json::push_u64;
use crate::time::write_date;

impl Population {
    /// Appends one Customer field: raw text (`raw = true`, for hashing and comparisons) or as a
    /// JSON value (quoted and escaped, `null` when absent).
    pub fn write_customer_field(
        &self,
        row: u32,
        field: CustomerField,
        raw: bool,
        out: &mut Vec<u8>,
    ) {
        let city = self.city_index(row);
        let country = self.dict.country_of_city(city);
        let words = self.dict.words(country.locale);
        let first = &words.first[self.first[row as usize] as usize % words.first.len()];
        let last = &words.last[self.last[row as usize] as usize % words.last.len()];
        let quote = |out: &mut Vec<u8>| {
            if !raw {
                out.push(b'"');
            }
        };
        match field {
            CustomerField::CustomerId => {
                quote(out);
                self.customer_ids.write(u64::from(row), out);
                quote(out);
            }
            CustomerField::FirstName => {
                quote(out);
                out.extend_from_slice(first.bytes(raw));
                quote(out);
            }
            CustomerField::LastName => {
                quote(out);
                out.extend_from_slice(last.bytes(raw));
                quote(out);
            }
            CustomerField::FullName => {
                quote(out);
                out.extend_from_slice(first.bytes(raw));
                out.push(b' ');
                out.extend_from_slice(last.bytes(raw));
                quote(out);
            }
            CustomerField::EMail => {
                quote(out);
                let h = self.row_hash(row, SALT_EMAIL);
                let (f, l) = (first.email.as_bytes(), last.email.as_bytes());
                match h % 7 {
                    0 | 1 => [f, b".", l].iter().for_each(|p| out.extend_from_slice(p)),
                    2 => [f, l].iter().for_each(|p| out.extend_from_slice(p)),
                    3 => [&f[..1], b".", l]
                        .iter()
                        .for_each(|p| out.extend_from_slice(p)),
                    4 => [f, b"_", l].iter().for_each(|p| out.extend_from_slice(p)),
                    5 => {
                        [f, b".", l].iter().for_each(|p| out.extend_from_slice(p));
                        push_u64(10 + (h >> 8) % 90, out);
                    }
                    _ => {
                        out.extend_from_slice(f);
                        push_u64(10 + (h >> 8) % 90, out);
                    }
                }
                out.push(b'@');
                let domains = &country.email_domains;
                out.extend_from_slice(
                    domains[((h >> 16) % domains.len() as u64) as usize].as_bytes(),
                );
                quote(out);
            }
            CustomerField::Telephone => {
                quote(out);
                self.dict
                    .write_phone(city, self.row_hash(row, SALT_PHONE), out);
                quote(out);
            }
            CustomerField::DateOfBirth => {
                quote(out);
                write_date(self.date_of_birth_days(row), out);
                out.extend_from_slice(b"T00:00:00Z");
                quote(out);
            }
            CustomerField::Gender => match self.gender(row) {
                Some(g) => {
                    quote(out);
                    out.extend_from_slice(g.as_bytes());
                    quote(out);
                }
                None if !raw => out.extend_from_slice(b"null"),
                None => {}
            },
            CustomerField::StreetAddress => {
                quote(out);
                let h = self.row_hash(row, SALT_STREET);
                let number = 1 + (h % 1998) as u32;
                self.dict.write_street(
                    city,
                    number,
                    ((h >> 16) % 4096) as usize,
                    ((h >> 32) % 64) as usize,
                    raw,
                    out,
                );
                quote(out);
            }
            CustomerField::City => {
                let c = &self.dict.cities[city];
                if raw {
                    out.extend_from_slice(c.name.as_bytes());
                } else {
                    out.extend_from_slice(&c.name_json);
                }
            }
            CustomerField::State => {
                let c = &self.dict.cities[city];
                if raw {
                    out.extend_from_slice(c.state.as_bytes());
                } else {
                    out.extend_from_slice(&c.state_json);
                }
            }
            CustomerField::Country => {
                if raw {
                    out.extend_from_slice(country.name.as_bytes());
                } else {
                    out.extend_from_slice(&country.name_json);
                }
            }
            CustomerField::PostCode => {
                quote(out);
                self.dict
                    .write_postcode(city, self.row_hash(row, SALT_POSTCODE), out);
                quote(out);
            }
            CustomerField::CreatedOn => {
                quote(out);
                self.created_on(row).write_rfc3339(out);
                quote(out);
            }
            CustomerField::AltKey(s) => {
                if self.has_source(row, s) {
                    quote(out);
                    self.sources[s].key_codec.write(row, out);
                    quote(out);
                } else if !raw {
                    out.extend_from_slice(b"null");
                }
            }
        }
    }

    /// A customer field as text (`None` when absent); allocates, so off the hot path only.
    pub fn customer_text(&self, row: u32, field: CustomerField) -> Option<String> {
        if matches!(field, CustomerField::Gender) && self.gender(row).is_none() {
            return None;
        }
        if let CustomerField::AltKey(s) = field
            && !self.has_source(row, s)
        {
            return None;
        }
        let mut out = Vec::with_capacity(48);
        self.write_customer_field(row, field, true, &mut out);
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}
