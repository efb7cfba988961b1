//! The dictionaries customer rows are drawn from.
//!
//! Person names and street-name parts come from the `fake` crate's locale data; the geography is a
//! small curated table of real cities (with their state, postcode pattern and telephone area code)
//! so that a row's city, state, postcode, country and phone agree. Customers store only indices
//! into these tables, which is what keeps a million profiles in a few tens of megabytes.

use fake::locales::{DE_DE, Data, EN, FR_FR, IT_IT, NL_NL, PT_BR};

use crate::json::push_json_str;

/// A language/naming convention shared by several countries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    De,
    Fr,
    Nl,
    It,
    PtBr,
}

/// How a country writes a street address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreetStyle {
    /// `1234 Maple Street`
    NumberNameSuffix,
    /// `Goethestraße 12`
    NameSuffixJoinedNumber,
    /// `12 Rue Voltaire`
    NumberSuffixName,
    /// `Via Verdi, 12`
    SuffixNameCommaNumber,
}

/// A city with everything that must agree with it.
#[derive(Debug, Clone)]
pub struct City {
    pub name: &'static str,
    pub state: &'static str,
    pub country: usize,
    /// Postcode pattern: `#` is a random digit, `@` a random capital letter, anything else literal.
    pub postcode: &'static str,
    /// Telephone area code (without the country code).
    pub area_code: &'static str,
    /// How many customers live here relative to the country's other cities.
    pub weight: u32,
    /// The name as a JSON string literal (with quotes), ready to copy into responses.
    pub name_json: Vec<u8>,
    pub state_json: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Country {
    pub name: &'static str,
    pub locale: Locale,
    pub calling_code: &'static str,
    /// Subscriber-number pattern after the area code (`#` digits).
    pub phone_pattern: &'static str,
    street_style: StreetStyle,
    pub email_domains: Vec<&'static str>,
    pub weight: u32,
    pub name_json: Vec<u8>,
}

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

fn json_literal(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    push_json_str(text, &mut out);
    out
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

type CityRow = (&'static str, &'static str, &'static str, &'static str, u32);

/// Countries with their cities: (name, state, postcode pattern, area code, weight).
fn country_table() -> Vec<(Country, Vec<CityRow>)> {
    let country = |name: &'static str,
                   locale,
                   calling_code,
                   phone_pattern,
                   street_style,
                   local_domains: &[&'static str],
                   weight| {
        let mut email_domains = vec!["outlook.com", "gmail.com", "hotmail.com", "yahoo.com"];
        email_domains.extend_from_slice(local_domains);
        Country {
            name,
            locale,
            calling_code,
            phone_pattern,
            street_style,
            email_domains,
            weight,
            name_json: json_literal(name),
        }
    };
    vec![
        (
            country(
                "United States",
                Locale::En,
                "1",
                "555-01##",
                StreetStyle::NumberNameSuffix,
                &["icloud.com", "comcast.net", "aol.com"],
                34,
            ),
            vec![
                ("Seattle", "WA", "981##", "206", 8),
                ("Redmond", "WA", "98052", "425", 3),
                ("Portland", "OR", "972##", "503", 5),
                ("San Francisco", "CA", "941##", "415", 7),
                ("Los Angeles", "CA", "900##", "213", 12),
                ("San Diego", "CA", "921##", "619", 6),
                ("Denver", "CO", "802##", "303", 5),
                ("Austin", "TX", "787##", "512", 6),
                ("Dallas", "TX", "752##", "214", 7),
                ("Houston", "TX", "770##", "713", 8),
                ("Chicago", "IL", "606##", "312", 10),
                ("New York", "NY", "100##", "212", 14),
                ("Boston", "MA", "021##", "617", 6),
                ("Atlanta", "GA", "303##", "404", 6),
                ("Miami", "FL", "331##", "305", 6),
                ("Phoenix", "AZ", "850##", "602", 6),
                ("Minneapolis", "MN", "554##", "612", 4),
                ("Philadelphia", "PA", "191##", "215", 6),
                ("Nashville", "TN", "372##", "615", 4),
                ("Raleigh", "NC", "276##", "919", 4),
            ],
        ),
        (
            country(
                "United Kingdom",
                Locale::En,
                "44",
                "7946 0###",
                StreetStyle::NumberNameSuffix,
                &["btinternet.com", "sky.com"],
                12,
            ),
            vec![
                ("London", "England", "SW1A #@@", "20", 20),
                ("Manchester", "England", "M1 #@@", "161", 6),
                ("Birmingham", "England", "B1 #@@", "121", 6),
                ("Leeds", "England", "LS1 #@@", "113", 4),
                ("Bristol", "England", "BS1 #@@", "117", 4),
                ("Edinburgh", "Scotland", "EH1 #@@", "131", 4),
                ("Glasgow", "Scotland", "G1 #@@", "141", 4),
                ("Cardiff", "Wales", "CF10 #@@", "29", 3),
            ],
        ),
        (
            country(
                "Canada",
                Locale::En,
                "1",
                "555-01##",
                StreetStyle::NumberNameSuffix,
                &["rogers.com", "shaw.ca"],
                8,
            ),
            vec![
                ("Toronto", "ON", "M5V #@#", "416", 10),
                ("Vancouver", "BC", "V6B #@#", "604", 7),
                ("Montreal", "QC", "H2X #@#", "514", 7),
                ("Calgary", "AB", "T2P #@#", "403", 4),
                ("Ottawa", "ON", "K1P #@#", "613", 4),
            ],
        ),
        (
            country(
                "Australia",
                Locale::En,
                "61",
                "5550 ####",
                StreetStyle::NumberNameSuffix,
                &["bigpond.com", "optusnet.com.au"],
                6,
            ),
            vec![
                ("Sydney", "NSW", "20##", "2", 10),
                ("Melbourne", "VIC", "30##", "3", 9),
                ("Brisbane", "QLD", "40##", "7", 5),
                ("Perth", "WA", "60##", "8", 4),
                ("Adelaide", "SA", "50##", "8", 3),
            ],
        ),
        (
            country(
                "Germany",
                Locale::De,
                "49",
                "555 ####",
                StreetStyle::NameSuffixJoinedNumber,
                &["web.de", "gmx.de", "t-online.de"],
                11,
            ),
            vec![
                ("Berlin", "Berlin", "10###", "30", 10),
                ("Hamburg", "Hamburg", "20###", "40", 6),
                ("München", "Bayern", "80###", "89", 6),
                ("Köln", "Nordrhein-Westfalen", "50###", "221", 5),
                ("Frankfurt am Main", "Hessen", "60###", "69", 4),
                ("Stuttgart", "Baden-Württemberg", "70###", "711", 4),
                ("Düsseldorf", "Nordrhein-Westfalen", "40###", "211", 3),
                ("Leipzig", "Sachsen", "04###", "341", 3),
            ],
        ),
        (
            country(
                "France",
                Locale::Fr,
                "33",
                "55 ## ## ##",
                StreetStyle::NumberSuffixName,
                &["orange.fr", "free.fr", "laposte.net"],
                9,
            ),
            vec![
                ("Paris", "Île-de-France", "750##", "1", 12),
                ("Lyon", "Auvergne-Rhône-Alpes", "6900#", "4", 5),
                ("Marseille", "Provence-Alpes-Côte d'Azur", "130##", "4", 5),
                ("Toulouse", "Occitanie", "310##", "5", 4),
                ("Bordeaux", "Nouvelle-Aquitaine", "330##", "5", 3),
                ("Lille", "Hauts-de-France", "590##", "3", 3),
                ("Nantes", "Pays de la Loire", "440##", "2", 3),
            ],
        ),
        (
            country(
                "Netherlands",
                Locale::Nl,
                "31",
                "555 ####",
                StreetStyle::NameSuffixJoinedNumber,
                &["ziggo.nl", "kpnmail.nl"],
                6,
            ),
            vec![
                ("Amsterdam", "Noord-Holland", "10## @@", "20", 8),
                ("Rotterdam", "Zuid-Holland", "30## @@", "10", 6),
                ("Den Haag", "Zuid-Holland", "25## @@", "70", 5),
                ("Utrecht", "Utrecht", "35## @@", "30", 4),
                ("Eindhoven", "Noord-Brabant", "56## @@", "40", 3),
            ],
        ),
        (
            country(
                "Italy",
                Locale::It,
                "39",
                "555 ####",
                StreetStyle::SuffixNameCommaNumber,
                &["libero.it", "virgilio.it"],
                7,
            ),
            vec![
                ("Roma", "Lazio", "001##", "06", 9),
                ("Milano", "Lombardia", "201##", "02", 8),
                ("Napoli", "Campania", "801##", "081", 5),
                ("Torino", "Piemonte", "101##", "011", 4),
                ("Firenze", "Toscana", "501##", "055", 3),
                ("Bologna", "Emilia-Romagna", "401##", "051", 3),
            ],
        ),
        (
            country(
                "Brazil",
                Locale::PtBr,
                "55",
                "95555-####",
                StreetStyle::SuffixNameCommaNumber,
                &["uol.com.br", "bol.com.br"],
                7,
            ),
            vec![
                ("São Paulo", "SP", "01###-###", "11", 12),
                ("Rio de Janeiro", "RJ", "20###-###", "21", 8),
                ("Belo Horizonte", "MG", "30###-###", "31", 4),
                ("Curitiba", "PR", "80###-###", "41", 3),
                ("Porto Alegre", "RS", "90###-###", "51", 3),
            ],
        ),
    ]
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
