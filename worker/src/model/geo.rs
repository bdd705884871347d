//! Embedded US geography: states with population and income, and a few cities per state.
//!
//! Populations: US Census Bureau, 2020 Census (April 1, 2020 resident population).
//! Incomes: US Census Bureau, American Community Survey 2016-2020 5-year estimates, median
//! household income (2020 dollars, table B19013). Cities: a small hand-made table of
//! well-known cities with one representative ZIP code, approximate coordinates and 2020
//! population rounded to thousands; enough to place stores and customers plausibly.

/// A state (or DC): code, name, 2020 population, median household income in dollars.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub code: &'static str,
    pub name: &'static str,
    pub population: u32,
    pub median_income: u32,
}

/// US median household income, ACS 2016-2020 5-year estimate (dollars).
pub const US_MEDIAN_INCOME: u32 = 64_994;

const fn st(code: &'static str, name: &'static str, population: u32, median_income: u32) -> State {
    State {
        code,
        name,
        population,
        median_income,
    }
}

pub const STATES: [State; 51] = [
    st("AL", "Alabama", 5_024_279, 52_035),
    st("AK", "Alaska", 733_391, 77_790),
    st("AZ", "Arizona", 7_151_502, 61_529),
    st("AR", "Arkansas", 3_011_524, 49_475),
    st("CA", "California", 39_538_223, 78_672),
    st("CO", "Colorado", 5_773_714, 75_231),
    st("CT", "Connecticut", 3_605_944, 79_855),
    st("DE", "Delaware", 989_948, 69_110),
    st("DC", "District of Columbia", 689_545, 90_842),
    st("FL", "Florida", 21_538_187, 57_703),
    st("GA", "Georgia", 10_711_908, 61_224),
    st("HI", "Hawaii", 1_455_271, 83_173),
    st("ID", "Idaho", 1_839_106, 58_915),
    st("IL", "Illinois", 12_812_508, 68_428),
    st("IN", "Indiana", 6_785_528, 58_235),
    st("IA", "Iowa", 3_190_369, 61_836),
    st("KS", "Kansas", 2_937_880, 61_091),
    st("KY", "Kentucky", 4_505_836, 52_238),
    st("LA", "Louisiana", 4_657_757, 50_800),
    st("ME", "Maine", 1_362_359, 59_489),
    st("MD", "Maryland", 6_177_224, 87_063),
    st("MA", "Massachusetts", 7_029_917, 84_385),
    st("MI", "Michigan", 10_077_331, 59_234),
    st("MN", "Minnesota", 5_706_494, 73_382),
    st("MS", "Mississippi", 2_961_279, 46_511),
    st("MO", "Missouri", 6_154_913, 57_290),
    st("MT", "Montana", 1_084_225, 56_539),
    st("NE", "Nebraska", 1_961_504, 63_015),
    st("NV", "Nevada", 3_104_614, 62_043),
    st("NH", "New Hampshire", 1_377_529, 77_923),
    st("NJ", "New Jersey", 9_288_994, 85_245),
    st("NM", "New Mexico", 2_117_522, 51_243),
    st("NY", "New York", 20_201_249, 71_117),
    st("NC", "North Carolina", 10_439_388, 56_642),
    st("ND", "North Dakota", 779_094, 65_315),
    st("OH", "Ohio", 11_799_448, 58_116),
    st("OK", "Oklahoma", 3_959_353, 53_840),
    st("OR", "Oregon", 4_237_256, 65_667),
    st("PA", "Pennsylvania", 13_002_700, 63_627),
    st("RI", "Rhode Island", 1_097_379, 70_305),
    st("SC", "South Carolina", 5_118_425, 54_864),
    st("SD", "South Dakota", 886_667, 59_896),
    st("TN", "Tennessee", 6_910_840, 54_833),
    st("TX", "Texas", 29_145_505, 63_826),
    st("UT", "Utah", 3_271_616, 74_197),
    st("VT", "Vermont", 643_077, 63_477),
    st("VA", "Virginia", 8_631_393, 76_398),
    st("WA", "Washington", 7_705_281, 77_006),
    st("WV", "West Virginia", 1_793_716, 48_037),
    st("WI", "Wisconsin", 5_893_718, 63_293),
    st("WY", "Wyoming", 576_851, 65_304),
];

/// A city with one representative ZIP code, coordinates (degrees) and population (thousands).
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub state: &'static str,
    pub name: &'static str,
    pub zip: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub population_k: u32,
}

const fn c(
    state: &'static str,
    name: &'static str,
    zip: &'static str,
    lat: f64,
    lon: f64,
    population_k: u32,
) -> City {
    City {
        state,
        name,
        zip,
        lat,
        lon,
        population_k,
    }
}

pub const CITIES: &[City] = &[
    c("AL", "Birmingham", "35203", 33.52, -86.81, 200),
    c("AL", "Montgomery", "36104", 32.38, -86.30, 201),
    c("AL", "Huntsville", "35801", 34.73, -86.59, 215),
    c("AL", "Mobile", "36602", 30.69, -88.04, 187),
    c("AK", "Anchorage", "99501", 61.22, -149.90, 291),
    c("AK", "Fairbanks", "99701", 64.84, -147.72, 33),
    c("AK", "Juneau", "99801", 58.30, -134.42, 32),
    c("AZ", "Phoenix", "85004", 33.45, -112.07, 1608),
    c("AZ", "Tucson", "85701", 32.22, -110.97, 543),
    c("AZ", "Mesa", "85201", 33.42, -111.83, 504),
    c("AZ", "Flagstaff", "86001", 35.20, -111.65, 77),
    c("AR", "Little Rock", "72201", 34.75, -92.29, 202),
    c("AR", "Fayetteville", "72701", 36.06, -94.16, 94),
    c("AR", "Fort Smith", "72901", 35.39, -94.40, 89),
    c("CA", "Los Angeles", "90012", 34.05, -118.24, 3899),
    c("CA", "San Diego", "92101", 32.72, -117.16, 1386),
    c("CA", "San Jose", "95113", 37.34, -121.89, 1013),
    c("CA", "San Francisco", "94103", 37.77, -122.42, 874),
    c("CA", "Fresno", "93721", 36.74, -119.79, 542),
    c("CA", "Sacramento", "95814", 38.58, -121.49, 524),
    c("CA", "Oakland", "94612", 37.80, -122.27, 440),
    c("CA", "Long Beach", "90802", 33.77, -118.19, 466),
    c("CO", "Denver", "80202", 39.74, -104.99, 716),
    c("CO", "Colorado Springs", "80903", 38.83, -104.82, 479),
    c("CO", "Aurora", "80012", 39.73, -104.83, 386),
    c("CO", "Fort Collins", "80521", 40.59, -105.08, 170),
    c("CT", "Bridgeport", "06604", 41.18, -73.19, 149),
    c("CT", "New Haven", "06510", 41.31, -72.92, 135),
    c("CT", "Hartford", "06103", 41.76, -72.67, 121),
    c("CT", "Stamford", "06901", 41.05, -73.54, 136),
    c("DE", "Wilmington", "19801", 39.74, -75.55, 71),
    c("DE", "Dover", "19901", 39.16, -75.52, 39),
    c("DE", "Newark", "19711", 39.68, -75.75, 31),
    c("DC", "Washington", "20001", 38.91, -77.02, 690),
    c("FL", "Jacksonville", "32202", 30.33, -81.66, 950),
    c("FL", "Miami", "33130", 25.77, -80.19, 442),
    c("FL", "Tampa", "33602", 27.95, -82.46, 385),
    c("FL", "Orlando", "32801", 28.54, -81.38, 308),
    c("FL", "Tallahassee", "32301", 30.44, -84.28, 196),
    c("FL", "Fort Lauderdale", "33301", 26.12, -80.14, 183),
    c("GA", "Atlanta", "30303", 33.75, -84.39, 499),
    c("GA", "Augusta", "30901", 33.47, -81.97, 202),
    c("GA", "Columbus", "31901", 32.46, -84.99, 206),
    c("GA", "Savannah", "31401", 32.08, -81.09, 148),
    c("HI", "Honolulu", "96813", 21.31, -157.86, 350),
    c("HI", "Hilo", "96720", 19.71, -155.09, 45),
    c("HI", "Kahului", "96732", 20.89, -156.47, 28),
    c("ID", "Boise", "83702", 43.62, -116.20, 236),
    c("ID", "Meridian", "83642", 43.61, -116.39, 117),
    c("ID", "Idaho Falls", "83402", 43.49, -112.03, 65),
    c("ID", "Coeur d'Alene", "83814", 47.68, -116.78, 55),
    c("IL", "Chicago", "60601", 41.88, -87.63, 2746),
    c("IL", "Aurora", "60505", 41.76, -88.32, 181),
    c("IL", "Rockford", "61101", 42.27, -89.09, 148),
    c("IL", "Springfield", "62701", 39.80, -89.65, 114),
    c("IL", "Peoria", "61602", 40.69, -89.59, 113),
    c("IN", "Indianapolis", "46204", 39.77, -86.16, 887),
    c("IN", "Fort Wayne", "46802", 41.08, -85.14, 264),
    c("IN", "Evansville", "47708", 37.97, -87.57, 118),
    c("IN", "South Bend", "46601", 41.68, -86.25, 103),
    c("IA", "Des Moines", "50309", 41.59, -93.62, 214),
    c("IA", "Cedar Rapids", "52401", 41.98, -91.67, 137),
    c("IA", "Davenport", "52801", 41.52, -90.58, 101),
    c("IA", "Sioux City", "51101", 42.50, -96.40, 86),
    c("KS", "Wichita", "67202", 37.69, -97.34, 397),
    c("KS", "Overland Park", "66210", 38.98, -94.67, 197),
    c("KS", "Kansas City", "66101", 39.11, -94.63, 156),
    c("KS", "Topeka", "66603", 39.05, -95.68, 126),
    c("KY", "Louisville", "40202", 38.25, -85.76, 633),
    c("KY", "Lexington", "40507", 38.04, -84.50, 322),
    c("KY", "Bowling Green", "42101", 36.99, -86.44, 72),
    c("LA", "New Orleans", "70112", 29.95, -90.07, 384),
    c("LA", "Baton Rouge", "70801", 30.45, -91.19, 227),
    c("LA", "Shreveport", "71101", 32.53, -93.75, 188),
    c("LA", "Lafayette", "70501", 30.22, -92.02, 121),
    c("ME", "Portland", "04101", 43.66, -70.26, 68),
    c("ME", "Lewiston", "04240", 44.10, -70.21, 37),
    c("ME", "Bangor", "04401", 44.80, -68.77, 32),
    c("MD", "Baltimore", "21202", 39.29, -76.61, 586),
    c("MD", "Frederick", "21701", 39.41, -77.41, 78),
    c("MD", "Rockville", "20850", 39.08, -77.15, 68),
    c("MD", "Annapolis", "21401", 38.98, -76.49, 40),
    c("MA", "Boston", "02108", 42.36, -71.06, 676),
    c("MA", "Worcester", "01608", 42.26, -71.80, 206),
    c("MA", "Springfield", "01103", 42.10, -72.59, 156),
    c("MA", "Cambridge", "02139", 42.37, -71.11, 118),
    c("MA", "Lowell", "01852", 42.64, -71.32, 115),
    c("MI", "Detroit", "48226", 42.33, -83.05, 639),
    c("MI", "Grand Rapids", "49503", 42.96, -85.67, 199),
    c("MI", "Ann Arbor", "48104", 42.28, -83.74, 124),
    c("MI", "Lansing", "48933", 42.73, -84.56, 113),
    c("MN", "Minneapolis", "55401", 44.98, -93.27, 430),
    c("MN", "Saint Paul", "55102", 44.95, -93.09, 312),
    c("MN", "Rochester", "55902", 44.02, -92.47, 121),
    c("MN", "Duluth", "55802", 46.79, -92.10, 87),
    c("MS", "Jackson", "39201", 32.30, -90.18, 154),
    c("MS", "Gulfport", "39501", 30.37, -89.09, 72),
    c("MS", "Southaven", "38671", 34.99, -90.01, 55),
    c("MS", "Hattiesburg", "39401", 31.33, -89.29, 48),
    c("MO", "Kansas City", "64106", 39.10, -94.58, 508),
    c("MO", "St. Louis", "63101", 38.63, -90.20, 302),
    c("MO", "Springfield", "65806", 37.21, -93.29, 169),
    c("MO", "Columbia", "65201", 38.95, -92.33, 126),
    c("MT", "Billings", "59101", 45.78, -108.50, 117),
    c("MT", "Missoula", "59802", 46.87, -113.99, 74),
    c("MT", "Great Falls", "59401", 47.50, -111.30, 60),
    c("MT", "Bozeman", "59715", 45.68, -111.04, 53),
    c("NE", "Omaha", "68102", 41.26, -95.93, 486),
    c("NE", "Lincoln", "68508", 40.81, -96.70, 291),
    c("NE", "Grand Island", "68801", 40.92, -98.34, 53),
    c("NV", "Las Vegas", "89101", 36.17, -115.14, 642),
    c("NV", "Henderson", "89002", 36.04, -114.98, 317),
    c("NV", "Reno", "89501", 39.53, -119.81, 264),
    c("NH", "Manchester", "03101", 42.99, -71.46, 115),
    c("NH", "Nashua", "03060", 42.77, -71.47, 91),
    c("NH", "Concord", "03301", 43.21, -71.54, 44),
    c("NJ", "Newark", "07102", 40.74, -74.17, 311),
    c("NJ", "Jersey City", "07302", 40.72, -74.04, 292),
    c("NJ", "Paterson", "07505", 40.92, -74.17, 159),
    c("NJ", "Trenton", "08608", 40.22, -74.76, 90),
    c("NJ", "Camden", "08102", 39.93, -75.12, 71),
    c("NM", "Albuquerque", "87102", 35.08, -106.65, 564),
    c("NM", "Las Cruces", "88001", 32.31, -106.78, 112),
    c("NM", "Santa Fe", "87501", 35.69, -105.94, 88),
    c("NY", "New York", "10001", 40.75, -73.99, 8804),
    c("NY", "Buffalo", "14202", 42.89, -78.88, 278),
    c("NY", "Rochester", "14604", 43.16, -77.61, 211),
    c("NY", "Yonkers", "10701", 40.93, -73.90, 211),
    c("NY", "Syracuse", "13202", 43.05, -76.15, 148),
    c("NY", "Albany", "12207", 42.65, -73.75, 99),
    c("NC", "Charlotte", "28202", 35.23, -80.84, 875),
    c("NC", "Raleigh", "27601", 35.78, -78.64, 467),
    c("NC", "Greensboro", "27401", 36.07, -79.79, 299),
    c("NC", "Durham", "27701", 35.99, -78.90, 284),
    c("NC", "Asheville", "28801", 35.60, -82.55, 95),
    c("ND", "Fargo", "58102", 46.88, -96.79, 126),
    c("ND", "Bismarck", "58501", 46.81, -100.78, 74),
    c("ND", "Grand Forks", "58201", 47.93, -97.03, 59),
    c("OH", "Columbus", "43215", 39.96, -83.00, 906),
    c("OH", "Cleveland", "44114", 41.50, -81.69, 373),
    c("OH", "Cincinnati", "45202", 39.10, -84.51, 309),
    c("OH", "Toledo", "43604", 41.65, -83.54, 271),
    c("OH", "Akron", "44308", 41.08, -81.52, 190),
    c("OK", "Oklahoma City", "73102", 35.47, -97.52, 681),
    c("OK", "Tulsa", "74103", 36.15, -95.99, 413),
    c("OK", "Norman", "73069", 35.22, -97.44, 128),
    c("OR", "Portland", "97204", 45.52, -122.68, 652),
    c("OR", "Eugene", "97401", 44.05, -123.09, 177),
    c("OR", "Salem", "97301", 44.94, -123.04, 175),
    c("OR", "Bend", "97701", 44.06, -121.31, 99),
    c("PA", "Philadelphia", "19107", 39.95, -75.16, 1604),
    c("PA", "Pittsburgh", "15222", 40.44, -80.00, 303),
    c("PA", "Allentown", "18101", 40.60, -75.47, 126),
    c("PA", "Erie", "16501", 42.13, -80.09, 95),
    c("PA", "Harrisburg", "17101", 40.27, -76.88, 50),
    c("RI", "Providence", "02903", 41.82, -71.41, 190),
    c("RI", "Warwick", "02886", 41.70, -71.42, 83),
    c("RI", "Cranston", "02910", 41.78, -71.44, 83),
    c("SC", "Charleston", "29401", 32.78, -79.93, 150),
    c("SC", "Columbia", "29201", 34.00, -81.03, 137),
    c("SC", "Greenville", "29601", 34.85, -82.40, 71),
    c("SC", "Myrtle Beach", "29577", 33.69, -78.89, 35),
    c("SD", "Sioux Falls", "57104", 43.55, -96.73, 193),
    c("SD", "Rapid City", "57701", 44.08, -103.23, 75),
    c("SD", "Aberdeen", "57401", 45.46, -98.49, 28),
    c("TN", "Nashville", "37203", 36.16, -86.78, 689),
    c("TN", "Memphis", "38103", 35.15, -90.05, 633),
    c("TN", "Knoxville", "37902", 35.96, -83.92, 190),
    c("TN", "Chattanooga", "37402", 35.05, -85.31, 182),
    c("TX", "Houston", "77002", 29.76, -95.37, 2304),
    c("TX", "San Antonio", "78205", 29.42, -98.49, 1434),
    c("TX", "Dallas", "75201", 32.78, -96.80, 1304),
    c("TX", "Austin", "78701", 30.27, -97.74, 962),
    c("TX", "Fort Worth", "76102", 32.75, -97.33, 918),
    c("TX", "El Paso", "79901", 31.76, -106.49, 679),
    c("TX", "Lubbock", "79401", 33.58, -101.86, 258),
    c("UT", "Salt Lake City", "84101", 40.76, -111.89, 200),
    c("UT", "West Valley City", "84119", 40.69, -112.00, 140),
    c("UT", "Provo", "84601", 40.23, -111.66, 115),
    c("UT", "St. George", "84770", 37.10, -113.58, 95),
    c("VT", "Burlington", "05401", 44.48, -73.21, 45),
    c("VT", "South Burlington", "05403", 44.47, -73.17, 20),
    c("VT", "Rutland", "05701", 43.61, -72.97, 16),
    c("VT", "Montpelier", "05602", 44.26, -72.58, 8),
    c("VA", "Virginia Beach", "23451", 36.85, -75.98, 459),
    c("VA", "Norfolk", "23510", 36.85, -76.29, 238),
    c("VA", "Arlington", "22201", 38.88, -77.10, 239),
    c("VA", "Richmond", "23219", 37.54, -77.44, 226),
    c("VA", "Roanoke", "24011", 37.27, -79.94, 100),
    c("WA", "Seattle", "98101", 47.61, -122.33, 737),
    c("WA", "Spokane", "99201", 47.66, -117.43, 229),
    c("WA", "Tacoma", "98402", 47.25, -122.44, 219),
    c("WA", "Vancouver", "98660", 45.64, -122.66, 190),
    c("WA", "Bellevue", "98004", 47.61, -122.20, 152),
    c("WV", "Charleston", "25301", 38.35, -81.63, 48),
    c("WV", "Huntington", "25701", 38.42, -82.45, 46),
    c("WV", "Morgantown", "26505", 39.63, -79.96, 30),
    c("WV", "Parkersburg", "26101", 39.27, -81.56, 29),
    c("WI", "Milwaukee", "53202", 43.04, -87.91, 577),
    c("WI", "Madison", "53703", 43.07, -89.40, 270),
    c("WI", "Green Bay", "54301", 44.51, -88.01, 107),
    c("WI", "Kenosha", "53140", 42.58, -87.82, 99),
    c("WY", "Cheyenne", "82001", 41.14, -104.82, 65),
    c("WY", "Casper", "82601", 42.87, -106.31, 59),
    c("WY", "Laramie", "82070", 41.31, -105.59, 32),
];

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: &City, b: &City) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// Index of a state in [`STATES`] by its two-letter code.
pub fn state_index(code: &str) -> Option<usize> {
    STATES.iter().position(|s| s.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_cities_and_every_city_a_known_state() {
        for s in &STATES {
            assert!(
                CITIES.iter().any(|c| c.state == s.code),
                "{} has no city",
                s.code
            );
        }
        for c in CITIES {
            assert!(
                state_index(c.state).is_some(),
                "{} has unknown state",
                c.name
            );
            assert_eq!(c.zip.len(), 5, "{} zip", c.name);
            assert!(c.zip.bytes().all(|b| b.is_ascii_digit()), "{} zip", c.name);
            assert!((18.0..72.0).contains(&c.lat) && (-170.0..-65.0).contains(&c.lon));
        }
    }

    #[test]
    fn state_codes_are_unique_and_population_is_the_2020_total() {
        let mut codes: Vec<_> = STATES.iter().map(|s| s.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 51);
        // 2020 Census resident population of the 50 states + DC.
        let total: u64 = STATES.iter().map(|s| u64::from(s.population)).sum();
        assert_eq!(total, 331_449_281);
    }

    #[test]
    fn distances_are_plausible() {
        let find = |st: &str, n: &str| {
            CITIES
                .iter()
                .find(|c| c.state == st && c.name == n)
                .unwrap()
        };
        let d = distance_km(find("MA", "Boston"), find("NY", "New York"));
        assert!((280.0..320.0).contains(&d), "Boston-NYC {d}");
        let d = distance_km(find("KS", "Kansas City"), find("MO", "Kansas City"));
        assert!(d < 10.0, "KC-KC {d}");
    }
}
