//! The words names and texts are made of.

/// Places: node, site and route names.
pub(super) const PLACES: &[&str] = &[
    "Harbor",
    "Ridge",
    "Summit",
    "Valley",
    "Oakwood",
    "Riverside",
    "Hilltop",
    "Lakeside",
    "Northgate",
    "Southend",
    "Westfield",
    "Eastbrook",
    "Cedar",
    "Pine",
    "Maple",
    "Granite",
    "Beacon",
    "Foxhill",
    "Kingsway",
    "Meadow",
    "Stonebridge",
    "Ashford",
    "Bramble",
    "Copper",
    "Larkspur",
    "Millbrook",
    "Orchard",
    "Quarry",
    "Redcliff",
    "Willow",
    "Zürichsee",
    "Ørsted",
];
/// First names: of people, their devices and their profiles.
pub(super) const PEOPLE: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yara", "Zoë",
    "Ágnes", "Jürgen", "Søren",
];
/// Surnames of profiles.
pub(super) const SURNAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Walker", "Wright",
    "Robinson", "Hughes", "Green", "Novak", "Müller", "García",
];
/// Device kinds in the names of companions.
pub(super) const DEVICES: &[&str] = &[
    "T-Deck", "Heltec", "RAK", "T-Beam", "Xiao", "Station", "Mobile", "Handheld",
];
/// What a repeater is called.
pub(super) const RELAY_KINDS: &[&str] = &["Repeater", "Relay", "Tower", "Mast", "Node"];
/// Areas in the names and tags of observers.
pub(super) const AREAS: &[&str] = &["North", "South", "East", "West", "Central"];
/// Values of `role` node tags.
pub(super) const ROLE_TAGS: &[&str] =
    &["infrastructure", "client", "gateway", "backbone", "sensor"];
/// What people write on the mesh.
pub(super) const PHRASES: &[&str] = &[
    "anyone on frequency tonight?",
    "good signal from the ridge today",
    "testing the new antenna, please ack",
    "the repeater at the harbor is back up",
    "heading out on the trail, will check in later",
    "weather is turning, stay safe out there",
    "can someone relay to the valley?",
    "battery at 40%, switching to solar",
    "copy that, loud and clear",
    "meetup at the library on saturday",
    "who moved the hilltop node?",
    "path looks shorter since the new relay went in",
    "nice! 5 hops and still got through",
    "firmware update went fine here",
    "gm mesh ☀️",
    "73 from the orchard 📡",
    "anyone seeing packet loss in the east?",
    "will the ops channel be on tonight?",
    "just passed the quarry, no coverage there",
    "thanks for the relay, much appreciated",
];
/// Messages the spam scores should catch.
pub(super) const SPAM: &[&str] = &[
    "WIN FREE CRYPTO NOW!!! visit http://spam.example/win",
    "cheap followers, dm me for prices $$$",
    "CLICK HERE http://spam.example/offer limited time",
    "you have been selected for a prize, reply with your key",
];
