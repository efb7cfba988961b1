//! The dictionaries customer rows are drawn from.
//!
//! Person names and street-name parts come from the `fake` crate's locale data; the geography is a
//! small curated table of real cities (`geography.rs`, with their state, postcode pattern and
//! telephone area code) so that a row's city, state, postcode, country and phone agree. Customers store only indices
//! into these tables, which is what keeps a million profiles in a few tens of megabytes.

use fake::locales::{DE_DE, Data, EN, FR_FR, IT_IT, NL_NL, PT_BR};

pub use super::geography::{City, Country, Locale};
use super::geography::{StreetStyle, country_table, json_literal};

/// One word of a dictionary, pre-rendered for the two places it is written.
#[derive(Debug, Clone)]
pub struct Word {
    pub text: &'static str,
    /// JSON-escaped, without the surrounding quotes.
    pub json_inner: Vec<u8>,
    /// ASCII lower-case transliteration for e-mail addresses (`José` → `jose`).
    pub email: String,
    /// For first names: whether the name reads as female in its locale (a spelling heuristic,
    /// since the name lists carry no gender; good enough that `Gender` rarely contradicts it).
    pub female: bool,
}

impl Word {
    /// The raw text, or its JSON-escaped form (without quotes).
    pub fn bytes(&self, raw: bool) -> &[u8] {
        if raw {
            self.text.as_bytes()
        } else {
            &self.json_inner
        }
    }
}

/// Names and street words of one locale.
#[derive(Debug, Clone)]
pub struct LocaleWords {
    pub first: Vec<Word>,
    pub last: Vec<Word>,
    pub street_suffix: Vec<Word>,
}

/// All dictionaries: built once per tenant (a few thousand words).
#[derive(Debug, Clone)]
pub struct Dictionaries {
    pub countries: Vec<Country>,
    pub cities: Vec<City>,
    locales: Vec<(Locale, LocaleWords)>,
    /// Cumulative city weights over all countries (country weight × city weight share), for
    /// drawing a city with one random number.
    city_cumulative: Vec<u64>,
}

impl Dictionaries {
    pub fn new() -> Dictionaries {
        let mut countries = Vec::new();
        let mut cities = Vec::new();
        for (country, city_rows) in country_table() {
            let index = countries.len();
            for (name, state, postcode, area_code, weight) in city_rows {
                cities.push(City {
                    name,
                    state,
                    country: index,
                    postcode,
                    area_code,
                    weight,
                    name_json: json_literal(name),
                    state_json: json_literal(state),
                });
            }
            countries.push(country);
        }
        let mut city_cumulative = Vec::with_capacity(cities.len());
        let mut total = 0u64;
        for city in &cities {
            let country = &countries[city.country];
            let country_city_weight: u32 = cities_of(&cities, city.country).map(|c| c.weight).sum();
            // Scale so that a country's share does not depend on how many cities it lists.
            total += u64::from(country.weight) * u64::from(city.weight) * 1000
                / u64::from(country_city_weight.max(1));
            city_cumulative.push(total);
        }
        let locales = [
            Locale::En,
            Locale::De,
            Locale::Fr,
            Locale::Nl,
            Locale::It,
            Locale::PtBr,
        ]
        .into_iter()
        .map(|l| (l, locale_words(l)))
        .collect();
        Dictionaries {
            countries,
            cities,
            locales,
            city_cumulative,
        }
    }

    pub fn words(&self, locale: Locale) -> &LocaleWords {
        // Every locale is built in `new`; the fallback keeps this total without a panic path.
        self.locales
            .iter()
            .find(|(l, _)| *l == locale)
            .map(|(_, w)| w)
            .unwrap_or(&self.locales[0].1)
    }

    /// The city that a uniform random `u64` falls on (weighted by population share).
    pub fn pick_city(&self, r: u64) -> usize {
        let total = self.city_cumulative.last().copied().unwrap_or(1).max(1);
        let point = r % total;
        self.city_cumulative.partition_point(|&c| c <= point)
    }

    pub fn country_of_city(&self, city: usize) -> &Country {
        &self.countries[self.cities[city].country]
    }

    /// Appends the street address for a house number, street-name word and suffix word, as raw
    /// text or JSON-escaped (without quotes).
    pub fn write_street(
        &self,
        city: usize,
        number: u32,
        street_word: usize,
        suffix: usize,
        raw: bool,
        out: &mut Vec<u8>,
    ) {
        let country = self.country_of_city(city);
        let words = self.words(country.locale);
        let name = words.last[street_word % words.last.len()].bytes(raw);
        let suffix = words.street_suffix[suffix % words.street_suffix.len()].bytes(raw);
        let mut num_buf = itoa_buf(number);
        let num = num_buf.as_bytes();
        match country.street_style {
            StreetStyle::NumberNameSuffix => {
                out.extend_from_slice(num);
                out.push(b' ');
                out.extend_from_slice(name);
                out.push(b' ');
                out.extend_from_slice(suffix);
            }
            StreetStyle::NameSuffixJoinedNumber => {
                out.extend_from_slice(name);
                out.extend_from_slice(suffix);
                out.push(b' ');
                out.extend_from_slice(num);
            }
            StreetStyle::NumberSuffixName => {
                out.extend_from_slice(num);
                out.push(b' ');
                out.extend_from_slice(suffix);
                out.push(b' ');
                out.extend_from_slice(name);
            }
            StreetStyle::SuffixNameCommaNumber => {
                out.extend_from_slice(suffix);
                out.push(b' ');
                out.extend_from_slice(name);
                out.extend_from_slice(b", ");
                out.extend_from_slice(num);
            }
        }
    }

    /// Appends a postcode for the city, filling the pattern's `#`/`@` from `r`.
    pub fn write_postcode(&self, city: usize, r: u64, out: &mut Vec<u8>) {
        fill_pattern(self.cities[city].postcode, r, out);
    }

    /// Appends an international telephone number: `+1 206-555-0147`.
    pub fn write_phone(&self, city: usize, r: u64, out: &mut Vec<u8>) {
        let city = &self.cities[city];
        let country = &self.countries[city.country];
        out.push(b'+');
        out.extend_from_slice(country.calling_code.as_bytes());
        out.push(b' ');
        out.extend_from_slice(city.area_code.as_bytes());
        out.push(b' ');
        fill_pattern(country.phone_pattern, r, out);
    }
}

impl Default for Dictionaries {
    fn default() -> Self {
        Dictionaries::new()
    }
}

fn cities_of(cities: &[City], country: usize) -> impl Iterator<Item = &City> {
    cities.iter().filter(move |c| c.country == country)
}

/// Fills `#` with digits and `@` with capital letters drawn from `r` (a few bits each).
fn fill_pattern(pattern: &str, mut r: u64, out: &mut Vec<u8>) {
    for b in pattern.bytes() {
        match b {
            b'#' => {
                out.push(b'0' + (r % 10) as u8);
                r = r / 10 + ((r % 7) << 58);
            }
            b'@' => {
                out.push(b'A' + (r % 26) as u8);
                r = r / 26 + ((r % 5) << 58);
            }
            other => out.push(other),
        }
    }
}

struct ItoaBuf {
    buf: [u8; 10],
    start: usize,
}

impl ItoaBuf {
    fn as_bytes(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(mut v: u32) -> ItoaBuf {
    let mut buf = [0u8; 10];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    ItoaBuf { buf, start }
}

/// Guesses whether a first name is female from its ending, per locale.
fn guess_female(folded: &str, locale: Locale) -> bool {
    let ends = |endings: &[&str]| endings.iter().any(|e| folded.ends_with(e));
    match locale {
        Locale::It | Locale::PtBr => {
            ends(&["a", "e"]) && !ends(&["ele", "ore", "ione", "ide", "ce"])
        }
        Locale::De | Locale::Nl => {
            ends(&["a", "e", "in", "id", "ud", "th"]) && !ends(&["ue", "we", "de", "ole", "ne"])
        }
        Locale::Fr => {
            ends(&["a", "e", "ine", "elle"]) && !ends(&["re", "ge", "le", "me", "que"])
                || ends(&["elle", "ine", "ette", "ie"])
        }
        Locale::En => {
            ends(&[
                "a", "ie", "ine", "elle", "lyn", "een", "ette", "ah", "anne", "ey", "ice", "is",
                "ly", "ny",
            ]) && !ends(&["ey", "ly", "is"])
                || ends(&["ie", "elle", "ette", "ine", "lyn"])
        }
    }
}

fn word(text: &'static str) -> Word {
    let mut quoted = json_literal(text);
    quoted.pop();
    quoted.remove(0);
    let email: String = deunicode::deunicode(text)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Word {
        text,
        json_inner: quoted,
        email,
        female: false,
    }
}

fn words(list: &[&'static str]) -> Vec<Word> {
    let mut out: Vec<Word> = list
        .iter()
        .copied()
        .filter(|w| !w.trim().is_empty())
        .map(word)
        .filter(|w| !w.email.is_empty())
        .collect();
    out.dedup_by(|a, b| a.text == b.text);
    out
}

/// Common English street suffixes (fake's list includes rare ones such as "Stravenue").
const EN_STREET_SUFFIXES: &[&str] = &[
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Drive",
    "Court",
    "Place",
    "Way",
    "Boulevard",
    "Terrace",
];

fn locale_words(locale: Locale) -> LocaleWords {
    let (first, last, suffix): (&[&'static str], &[&'static str], &[&'static str]) = match locale {
        Locale::En => (EN::NAME_FIRST_NAME, EN::NAME_LAST_NAME, EN_STREET_SUFFIXES),
        Locale::De => (
            DE_DE::NAME_FIRST_NAME,
            DE_DE::NAME_LAST_NAME,
            DE_DE::ADDRESS_STREET_SUFFIX,
        ),
        Locale::Fr => (
            FR_FR::NAME_FIRST_NAME,
            FR_FR::NAME_LAST_NAME,
            FR_FR::ADDRESS_STREET_SUFFIX,
        ),
        Locale::Nl => (
            NL_NL::NAME_FIRST_NAME,
            NL_NL::NAME_LAST_NAME,
            NL_NL::ADDRESS_STREET_SUFFIX,
        ),
        Locale::It => (
            IT_IT::NAME_FIRST_NAME,
            IT_IT::NAME_LAST_NAME,
            IT_IT::ADDRESS_STREET_SUFFIX,
        ),
        Locale::PtBr => (
            PT_BR::NAME_FIRST_NAME,
            PT_BR::NAME_LAST_NAME,
            PT_BR::ADDRESS_STREET_SUFFIX,
        ),
    };
    let mut first = words(first);
    for w in &mut first {
        w.female = guess_female(&w.email, locale);
    }
    LocaleWords {
        first,
        last: words(last),
        street_suffix: words(suffix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_has_names_and_street_words() {
        let d = Dictionaries::new();
        for country in &d.countries {
            let w = d.words(country.locale);
            assert!(w.first.len() > 40, "{}", country.name);
            assert!(w.last.len() > 40, "{}", country.name);
            assert!(!w.street_suffix.is_empty(), "{}", country.name);
            assert!(w.first.iter().all(|x| x.email.is_ascii()));
        }
    }

    #[test]
    fn picks_every_city_and_stays_in_range() {
        let d = Dictionaries::new();
        let mut seen = vec![false; d.cities.len()];
        for r in 0..200_000u64 {
            seen[d.pick_city(crate::ids::mix64(r))] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn postcodes_and_phones_follow_the_city() {
        let d = Dictionaries::new();
        let london = d.cities.iter().position(|c| c.name == "London").unwrap();
        let mut out = Vec::new();
        d.write_postcode(london, 123_456_789, &mut out);
        let pc = String::from_utf8(out).unwrap();
        assert!(pc.starts_with("SW1A "), "{pc}");
        let mut out = Vec::new();
        d.write_phone(london, 42, &mut out);
        assert!(String::from_utf8(out).unwrap().starts_with("+44 20 7946 0"));
    }
}
