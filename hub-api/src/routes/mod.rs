//! One module per route group of docs/contract/api.md section 2, plus health.

pub mod adoptions;
pub mod advertisements;
pub mod channels;
pub mod dashboard;
pub mod feeds;
pub mod health;
pub mod mesh_routes;
pub mod messages;
pub mod nodes;
pub mod packet_groups;
pub mod packets;
pub mod profiles;
pub mod telemetry;
pub mod trace_paths;

use poem_openapi::Tags;

/// OpenAPI tags grouping the operations in the docs.
#[derive(Tags)]
pub enum ApiTags {
    /// Liveness and readiness.
    Health,
    /// Nodes of the mesh and their tags.
    Nodes,
    /// Advertisements heard by observers.
    Advertisements,
    /// Contact and channel messages.
    Messages,
    /// Group channels.
    Channels,
    /// Aggregates for the web dashboard.
    Dashboard,
    /// Member profiles and adopted nodes.
    Profiles,
    /// Raw packets as observers captured them.
    Packets,
    /// Raw packets grouped by packet hash, one reception per observer and path.
    PacketGroups,
    /// Sensor telemetry reported by nodes.
    Telemetry,
    /// Trace results: path hashes and per-hop SNR.
    TracePaths,
    /// Monitored routes between sites and their health.
    Routes,
    /// Public RSS 2.0 and Atom feeds (the logged-out view).
    Feeds,
}

/// Declares the API groups once, in the order the docs list them; `[cached]` marks a group
/// with `#[cached_api]`. It writes [`AllApis`], [`all`] and [`cache_names`], so a new group is
/// one line here.
macro_rules! api_groups {
    ($($module:ident::$api:ident $([$cached:ident])?),* $(,)?) => {
        /// The type of [`all`]: every API group.
        pub type AllApis = ($($module::$api,)*);

        /// Every API group, in the order the docs list them.
        pub fn all() -> AllApis {
            ($($module::$api,)*)
        }

        /// The cache names of every `#[cached]` operation of [`all`], one entry per operation
        /// (so a name used twice appears twice). `hub-api/tests/cache.rs` checks this list
        /// against the cached operations of the OpenAPI document, so a cached group not
        /// marked `[cached]` fails that test.
        pub fn cache_names() -> Vec<&'static str> {
            use hub_core::cache::runtime::CachedApi;
            let mut names: Vec<&'static str> = Vec::new();
            $($(
                let _ = stringify!($cached);
                names.extend_from_slice($module::$api::CACHE_NAMES);
            )?)*
            names
        }
    };
}

api_groups! {
    health::HealthApi,
    nodes::NodesApi [cached],
    advertisements::AdvertisementsApi [cached],
    messages::MessagesApi [cached],
    channels::ChannelsApi [cached],
    dashboard::DashboardApi [cached],
    profiles::ProfilesApi [cached],
    packets::PacketsApi [cached],
    packet_groups::PacketGroupsApi [cached],
    telemetry::TelemetryApi,
    trace_paths::TracePathsApi,
    mesh_routes::RoutesApi [cached],
    adoptions::AdoptionsApi [cached],
    feeds::FeedsApi [cached],
}
