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

/// The type of [`all`]: every API group.
pub type AllApis = (
    health::HealthApi,
    nodes::NodesApi,
    advertisements::AdvertisementsApi,
    messages::MessagesApi,
    channels::ChannelsApi,
    dashboard::DashboardApi,
    profiles::ProfilesApi,
    packets::PacketsApi,
    packet_groups::PacketGroupsApi,
    telemetry::TelemetryApi,
    trace_paths::TracePathsApi,
    mesh_routes::RoutesApi,
    adoptions::AdoptionsApi,
    feeds::FeedsApi,
);

/// The cache names of every `#[cached]` operation of [`all`], one entry per operation (so a
/// name used twice appears twice). The groups without `#[cached_api]` (health, telemetry,
/// trace paths) have none; `hub-api/tests/cache.rs` checks this list against the cached
/// operations of the OpenAPI document, so a group missing here fails that test.
pub fn cache_names() -> Vec<&'static str> {
    use hub_core::cache::runtime::CachedApi;
    [
        nodes::NodesApi::CACHE_NAMES,
        advertisements::AdvertisementsApi::CACHE_NAMES,
        messages::MessagesApi::CACHE_NAMES,
        channels::ChannelsApi::CACHE_NAMES,
        dashboard::DashboardApi::CACHE_NAMES,
        profiles::ProfilesApi::CACHE_NAMES,
        packets::PacketsApi::CACHE_NAMES,
        packet_groups::PacketGroupsApi::CACHE_NAMES,
        mesh_routes::RoutesApi::CACHE_NAMES,
        adoptions::AdoptionsApi::CACHE_NAMES,
        feeds::FeedsApi::CACHE_NAMES,
    ]
    .concat()
}

/// Every API group, in the order the docs list them.
pub fn all() -> AllApis {
    (
        health::HealthApi,
        nodes::NodesApi,
        advertisements::AdvertisementsApi,
        messages::MessagesApi,
        channels::ChannelsApi,
        dashboard::DashboardApi,
        profiles::ProfilesApi,
        packets::PacketsApi,
        packet_groups::PacketGroupsApi,
        telemetry::TelemetryApi,
        trace_paths::TracePathsApi,
        mesh_routes::RoutesApi,
        adoptions::AdoptionsApi,
        feeds::FeedsApi,
    )
}
