//! The curated geography customers live in: countries with their naming locale, phone and
//! street conventions, and real cities with their state, postcode pattern and area code, so that
//! a row's city, state, postcode, country and phone agree.

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
pub(crate) enum StreetStyle {
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
    pub(crate) street_style: StreetStyle,
    pub email_domains: Vec<&'static str>,
    pub weight: u32,
    pub name_json: Vec<u8>,
}

pub(crate) type CityRow = (&'static str, &'static str, &'static str, &'static str, u32);

/// Countries with their cities: (name, state, postcode pattern, area code, weight).
pub(crate) fn country_table() -> Vec<(Country, Vec<CityRow>)> {
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

/// The JSON string literal of `text`, quotes included.
pub(crate) fn json_literal(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    push_json_str(text, &mut out);
    out
}
