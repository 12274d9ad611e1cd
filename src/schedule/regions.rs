//! Where in Spain a callee lives, for the holidays of their region (ISO 3166-2:ES).
//!
//! In order: a CSV column (`provincia`, `comunidad`, `codigo_postal`/`cp`, `region`; names
//! matched case- and accent-insensitively, a postal code's first two digits are its province),
//! else a landline's province prefix (91 Madrid, 93 Barcelona, 928 Las Palmas…), else the
//! campaign's `holiday_region`. Mobiles and non-geographic numbers say nothing about a region.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::text::normalize_header;

/// The 19 regions: ISO 3166-2:ES code, name, and other names they are written as.
pub const REGIONS: [(&str, &str, &[&str]); 19] = [
    ("AN", "Andalucía", &["andalucia", "andalusia"]),
    ("AR", "Aragón", &["aragon"]),
    (
        "AS",
        "Asturias",
        &["principado_de_asturias", "principau_d_asturies"],
    ),
    ("CB", "Cantabria", &[]),
    ("CE", "Ceuta", &[]),
    (
        "CL",
        "Castilla y León",
        &["castilla_y_leon", "castilla_leon"],
    ),
    (
        "CM",
        "Castilla-La Mancha",
        &["castilla_la_mancha", "castilla_mancha"],
    ),
    ("CN", "Canarias", &["islas_canarias", "canary_islands"]),
    ("CT", "Cataluña", &["cataluna", "catalunya", "catalonia"]),
    ("EX", "Extremadura", &[]),
    ("GA", "Galicia", &[]),
    (
        "IB",
        "Illes Balears",
        &["islas_baleares", "baleares", "balears", "illes_balears"],
    ),
    ("MC", "Región de Murcia", &["region_de_murcia", "murcia"]),
    (
        "MD",
        "Comunidad de Madrid",
        &["comunidad_de_madrid", "madrid"],
    ),
    ("ML", "Melilla", &[]),
    (
        "NC",
        "Navarra",
        &["comunidad_foral_de_navarra", "navarra", "nafarroa"],
    ),
    (
        "PV",
        "País Vasco",
        &["pais_vasco", "euskadi", "euskal_herria"],
    ),
    ("RI", "La Rioja", &["la_rioja", "rioja"]),
    (
        "VC",
        "Comunitat Valenciana",
        &[
            "comunitat_valenciana",
            "comunidad_valenciana",
            "valencia",
            "pais_valencia",
        ],
    ),
];

/// The 52 provinces by postal-code number (01–52): name, region, other names.
const PROVINCES: [(&str, &str, &[&str]); 52] = [
    ("Álava", "PV", &["araba", "alava_araba", "araba_alava"]),
    ("Albacete", "CM", &[]),
    ("Alicante", "VC", &["alacant", "alicante_alacant"]),
    ("Almería", "AN", &[]),
    ("Ávila", "CL", &[]),
    ("Badajoz", "EX", &[]),
    ("Illes Balears", "IB", &["baleares", "islas_baleares"]),
    ("Barcelona", "CT", &[]),
    ("Burgos", "CL", &[]),
    ("Cáceres", "EX", &[]),
    ("Cádiz", "AN", &[]),
    ("Castellón", "VC", &["castello", "castellon_castello"]),
    ("Ciudad Real", "CM", &[]),
    ("Córdoba", "AN", &[]),
    ("A Coruña", "GA", &["la_coruna", "coruna"]),
    ("Cuenca", "CM", &[]),
    ("Girona", "CT", &["gerona"]),
    ("Granada", "AN", &[]),
    ("Guadalajara", "CM", &[]),
    ("Gipuzkoa", "PV", &["guipuzcoa"]),
    ("Huelva", "AN", &[]),
    ("Huesca", "AR", &[]),
    ("Jaén", "AN", &[]),
    ("León", "CL", &[]),
    ("Lleida", "CT", &["lerida"]),
    ("La Rioja", "RI", &["rioja", "logrono"]),
    ("Lugo", "GA", &[]),
    ("Madrid", "MD", &[]),
    ("Málaga", "AN", &[]),
    ("Murcia", "MC", &[]),
    ("Navarra", "NC", &["nafarroa"]),
    ("Ourense", "GA", &["orense"]),
    ("Asturias", "AS", &["oviedo"]),
    ("Palencia", "CL", &[]),
    ("Las Palmas", "CN", &["palmas"]),
    ("Pontevedra", "GA", &[]),
    ("Salamanca", "CL", &[]),
    (
        "Santa Cruz de Tenerife",
        "CN",
        &["tenerife", "s_c_tenerife", "sc_tenerife"],
    ),
    ("Cantabria", "CB", &["santander"]),
    ("Segovia", "CL", &[]),
    ("Sevilla", "AN", &["seville"]),
    ("Soria", "CL", &[]),
    ("Tarragona", "CT", &[]),
    ("Teruel", "AR", &[]),
    ("Toledo", "CM", &[]),
    ("Valencia", "VC", &["valencia_valencia"]),
    ("Valladolid", "CL", &[]),
    ("Bizkaia", "PV", &["vizcaya"]),
    ("Zamora", "CL", &[]),
    ("Zaragoza", "AR", &[]),
    ("Ceuta", "CE", &[]),
    ("Melilla", "ML", &[]),
];

/// A region or a province, as a `holidays` entry or a callee's place names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// ISO 3166-2:ES code, e.g. `CT`.
    Region(&'static str),
    /// Postal-code number, 1–52 (28 Madrid).
    Province(u8),
}

impl Scope {
    /// `CT` for a region, the province's name for a province.
    pub fn label(&self) -> String {
        match self {
            Scope::Region(code) => (*code).to_string(),
            Scope::Province(p) => province_name(*p).unwrap_or("?").to_string(),
        }
    }

    /// The region a scope lies in.
    pub fn region(&self) -> Option<&'static str> {
        match self {
            Scope::Region(code) => Some(code),
            Scope::Province(p) => province_region(*p),
        }
    }
}

/// Where a callee's region came from, for `explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceSource {
    /// A CSV column, by its name.
    Column(String),
    /// The landline's province prefix.
    Phone,
    /// The campaign's `holiday_region`.
    Campaign,
}

/// A callee's region, and province when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub region: &'static str,
    pub province: Option<u8>,
    pub source: PlaceSource,
}

impl Place {
    /// `CT (Barcelona, from the provincia column)`.
    pub fn describe(&self) -> String {
        crate::i18n::Lang::En.render(&self.describe_msg())
    }

    /// [`Self::describe`] as a catalogue message.
    pub fn describe_msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        let province = self
            .province
            .and_then(province_name)
            .map(|p| format!("{p}, "))
            .unwrap_or_default();
        let from = match &self.source {
            PlaceSource::Column(c) => Msg::new("place.from_column").arg("column", c),
            PlaceSource::Phone => Msg::new("place.from_phone"),
            PlaceSource::Campaign => Msg::new("place.from_campaign"),
        };
        Msg::new("place")
            .arg("region", self.region)
            .arg("province", province)
            .msg("from", from)
    }
}

pub fn province_name(p: u8) -> Option<&'static str> {
    PROVINCES.get(usize::from(p).checked_sub(1)?).map(|e| e.0)
}

pub fn province_region(p: u8) -> Option<&'static str> {
    PROVINCES.get(usize::from(p).checked_sub(1)?).map(|e| e.1)
}

/// A region code in any case (`ct`), else `None`.
pub fn region_code(text: &str) -> Option<&'static str> {
    let t = text.trim();
    REGIONS
        .iter()
        .find(|r| r.0.eq_ignore_ascii_case(t))
        .map(|r| r.0)
}

/// A region or province by code or name, accent- and case-insensitive: `CT`, `Cataluña`,
/// `Barcelona`, `08`, `ES-B`… Names shared by a region and its province (Madrid, Murcia,
/// Navarra, La Rioja, Asturias, Cantabria, Ceuta, Melilla) are the province, which lies in
/// that region anyway.
pub fn scope_by_name(text: &str) -> Option<Scope> {
    let t = text.trim();
    if let Some(code) = region_code(t) {
        return Some(Scope::Region(code));
    }
    let t = t
        .strip_prefix("ES-")
        .or_else(|| t.strip_prefix("es-"))
        .unwrap_or(t);
    if let Some(code) = region_code(t) {
        return Some(Scope::Region(code));
    }
    if !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()) {
        let p: u8 = t.parse().ok()?;
        return province_name(p).map(|_| Scope::Province(p));
    }
    let key = normalize_header(t);
    let key = key.strip_prefix("provincia_de_").unwrap_or(&key);
    names().get(key).copied()
}

/// Every province and region name and alias, normalised as CSV headers are, built once.
/// Province names win over the region of the same name (Madrid, Murcia…).
fn names() -> &'static HashMap<String, Scope> {
    static NAMES: OnceLock<HashMap<String, Scope>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut map = HashMap::new();
        for (code, name, aliases) in REGIONS {
            map.insert(normalize_header(name), Scope::Region(code));
            for a in aliases {
                map.insert((*a).to_string(), Scope::Region(code));
            }
        }
        for (i, (name, _, aliases)) in PROVINCES.iter().enumerate() {
            let p = Scope::Province(i as u8 + 1);
            map.insert(normalize_header(name), p);
            for a in *aliases {
                map.insert((*a).to_string(), p);
            }
        }
        map
    })
}

/// The province of a Spanish postal code (five digits, the first two 01–52).
pub fn province_of_postal_code(text: &str) -> Option<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // Excel drops the leading zero of 08001: four digits are read as 0NNNN.
    let digits = match digits.len() {
        4 => format!("0{digits}"),
        5 => digits,
        _ => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let p: u8 = digits[..2].parse().ok()?;
    province_name(p).map(|_| p)
}

/// The CSV columns read, in order (names as the importer keeps them: lower case, no accents).
const POSTAL_COLUMNS: [&str; 4] = ["codigo_postal", "cp", "postal_code", "zip"];
const PLACE_COLUMNS: [&str; 4] = ["provincia", "province", "comunidad", "region"];

/// The callee's place from the CSV columns kept in `vars`, else from the number (E.164).
/// The most precise column wins: postal code, then province, then region.
pub fn place_of(vars: &BTreeMap<String, String>, e164: &str) -> Option<Place> {
    for col in POSTAL_COLUMNS {
        if let Some(p) = vars.get(col).and_then(|v| province_of_postal_code(v)) {
            return Some(province_place(p, PlaceSource::Column(col.to_string())));
        }
    }
    for col in PLACE_COLUMNS {
        let Some(value) = vars.get(col) else { continue };
        match scope_by_name(value) {
            Some(Scope::Province(p)) => {
                return Some(province_place(p, PlaceSource::Column(col.to_string())))
            }
            Some(Scope::Region(r)) => {
                return Some(Place {
                    region: r,
                    province: None,
                    source: PlaceSource::Column(col.to_string()),
                })
            }
            None => {}
        }
    }
    province_of_phone(e164).map(|p| province_place(p, PlaceSource::Phone))
}

/// The columns [`place_of`] reads, and nothing else of a stored contact's JSON object (read for
/// every due contact the gate sees, so the other columns are skipped, not copied).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct PlaceColumns {
    codigo_postal: Option<String>,
    cp: Option<String>,
    postal_code: Option<String>,
    zip: Option<String>,
    provincia: Option<String>,
    province: Option<String>,
    comunidad: Option<String>,
    region: Option<String>,
}

/// As [`place_of`], from the columns as the store keeps them (a JSON object of strings).
pub fn place_of_json(vars_json: &str, e164: &str) -> Option<Place> {
    let c: PlaceColumns = serde_json::from_str(vars_json).unwrap_or_default();
    let vars: BTreeMap<String, String> = [
        ("codigo_postal", c.codigo_postal),
        ("cp", c.cp),
        ("postal_code", c.postal_code),
        ("zip", c.zip),
        ("provincia", c.provincia),
        ("province", c.province),
        ("comunidad", c.comunidad),
        ("region", c.region),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), v?)))
    .collect();
    place_of(&vars, e164)
}

fn province_place(p: u8, source: PlaceSource) -> Place {
    Place {
        region: province_region(p).unwrap_or("MD"),
        province: Some(p),
        source,
    }
}

/// The province of a Spanish geographic number (`+349…`/`+348…`), from its prefix; `None` for
/// mobiles, non-geographic and foreign numbers.
pub fn province_of_phone(e164: &str) -> Option<u8> {
    let national = e164.trim().strip_prefix("+34")?;
    let b = national.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) || !matches!(b[0], b'8' | b'9') {
        return None;
    }
    // 8xx numbers mirror 9xx ones.
    let rest = &national[1..];
    if rest.starts_with('1') {
        return Some(28);
    }
    if rest.starts_with('3') {
        return Some(8);
    }
    // Ceuta and Melilla share their prefixes with Cádiz and Málaga.
    if rest.starts_with("565") {
        return Some(51);
    }
    if rest.starts_with("5267") || rest.starts_with("5268") || rest.starts_with("5269") {
        return Some(52);
    }
    Some(match &rest[..2] {
        "20" => 5,
        "21" => 40,
        "22" => 38,
        "23" => 37,
        "24" => 6,
        "25" => 45,
        "26" => 13,
        "27" => 10,
        "28" => 35,
        "41" => 26,
        "42" => 39,
        "43" => 20,
        "44" | "46" => 48,
        "45" => 1,
        "47" => 9,
        "48" => 31,
        "49" => 19,
        "50" => 4,
        "51" | "52" => 29,
        "53" => 23,
        "54" | "55" => 41,
        "56" => 11,
        "57" => 14,
        "58" => 18,
        "59" => 21,
        "60" | "61" | "62" | "63" => 46,
        "64" => 12,
        "65" | "66" => 3,
        "67" => 2,
        "68" => 30,
        "69" => 16,
        "71" => 7,
        "72" => 17,
        "73" => 25,
        "74" => 22,
        "75" => 42,
        "76" => 50,
        "77" => 43,
        "78" => 44,
        "79" => 34,
        "80" => 49,
        "81" => 15,
        "82" => 27,
        "83" => 47,
        "84" | "85" => 33,
        "86" => 36,
        "87" => 24,
        "88" => 32,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_province_is_in_a_known_region_and_found_by_its_name() {
        for p in 1..=52u8 {
            let region = province_region(p).unwrap();
            assert!(REGIONS.iter().any(|r| r.0 == region), "{p}");
            let name = province_name(p).unwrap();
            assert_eq!(scope_by_name(name), Some(Scope::Province(p)), "{name}");
            assert_eq!(
                scope_by_name(&name.to_uppercase()),
                Some(Scope::Province(p))
            );
        }
        for (code, name, _) in REGIONS {
            assert_eq!(scope_by_name(code).and_then(|s| s.region()), Some(code));
            assert_eq!(scope_by_name(name).and_then(|s| s.region()), Some(code));
        }
    }

    #[test]
    fn names_codes_and_postal_codes() {
        assert_eq!(scope_by_name("cataluña"), Some(Scope::Region("CT")));
        assert_eq!(scope_by_name("CATALUNYA"), Some(Scope::Region("CT")));
        assert_eq!(scope_by_name(" País Vasco "), Some(Scope::Region("PV")));
        assert_eq!(scope_by_name("ES-CT"), Some(Scope::Region("CT")));
        assert_eq!(scope_by_name("la coruña"), Some(Scope::Province(15)));
        assert_eq!(
            scope_by_name("Provincia de Cádiz"),
            Some(Scope::Province(11))
        );
        assert_eq!(scope_by_name("08"), Some(Scope::Province(8)));
        assert_eq!(scope_by_name("Narnia"), None);
        assert_eq!(scope_by_name("53"), None);
        assert_eq!(province_of_postal_code("08001"), Some(8));
        assert_eq!(province_of_postal_code("8001"), Some(8));
        assert_eq!(province_of_postal_code("35001"), Some(35));
        assert_eq!(province_of_postal_code("99001"), None);
        assert_eq!(province_of_postal_code("0800"), None);
    }

    #[test]
    fn landline_prefixes() {
        for (phone, p) in [
            ("+34910000000", 28),
            ("+34932123456", 8),
            ("+34928123456", 35),
            ("+34922123456", 38),
            ("+34954123456", 41),
            ("+34963123456", 46),
            ("+34971123456", 7),
            ("+34944123456", 48),
            ("+34881123456", 15),
            ("+34956512345", 51),
            ("+34952691234", 52),
            ("+34952123456", 29),
        ] {
            assert_eq!(province_of_phone(phone), Some(p), "{phone}");
        }
        for none in [
            "+34600123456",
            "+34712345678",
            "+34900123456",
            "+33142685300",
            "",
        ] {
            assert_eq!(province_of_phone(none), None, "{none}");
        }
    }

    #[test]
    fn the_most_precise_column_wins_then_the_number() {
        let v = vars(&[("provincia", "Girona"), ("codigo_postal", "28001")]);
        let p = place_of(&v, "+34600000000").unwrap();
        assert_eq!((p.region, p.province), ("MD", Some(28)));
        assert_eq!(p.source, PlaceSource::Column("codigo_postal".into()));
        let p = place_of(&vars(&[("comunidad", "Catalunya")]), "+34910000000").unwrap();
        assert_eq!((p.region, p.province), ("CT", None));
        let p = place_of(&vars(&[("provincia", "??")]), "+34932000000").unwrap();
        assert_eq!(
            (p.region, p.province, p.source),
            ("CT", Some(8), PlaceSource::Phone)
        );
        assert_eq!(place_of(&vars(&[]), "+34600000000"), None);
        let json = r#"{"nombre":"Ana","provincia":"Sevilla","notas":"x"}"#;
        let p = place_of_json(json, "+34600000000").unwrap();
        assert_eq!((p.region, p.province), ("AN", Some(41)));
        assert_eq!(
            place_of_json("not json", "+34932000000").unwrap().region,
            "CT"
        );
        assert_eq!(
            place_of(&vars(&[("cp", "38001")]), "+34600000000")
                .unwrap()
                .describe(),
            "CN (Santa Cruz de Tenerife, from the cp column)"
        );
    }
}
