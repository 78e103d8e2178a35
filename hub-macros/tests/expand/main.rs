//! Every accepted form of `#[cached_api]` / `#[cached]` compiles and behaves: one module per
//! form, each with a test that runs what the macro produced.
//!
//! These were trybuild `pass` cases; as modules of one ordinary test binary they build once,
//! where one `pass` case makes trybuild build (not just check) every case and link a binary
//! of ~140 MB for each (4.9 GB of disk and most of the ui test's time). The misuses stay
//! trybuild `compile_fail` cases (`tests/ui.rs`), which only need `cargo check`.

mod all_arguments;
mod full_paths;
// Not formatted: it spells `invalidates(nodes,)` with the trailing comma users may write.
#[rustfmt::skip]
mod invalidates;
mod key_path;
mod name_only;
mod path_and_header_params;
mod public;
mod query_params;
mod result_question_mark;
mod takes_request;
mod ttl;

/// The OpenAPI document of `api`, asserted to document the `X-Cache` header and to show
/// nothing of the expansion's own names.
fn documented_spec(api: impl poem_openapi::OpenApi) -> String {
    let spec = poem_openapi::OpenApiService::new(api, "test", "1").spec();
    assert!(spec.contains("X-Cache"), "{spec}");
    assert!(!spec.contains("__hub"), "{spec}");
    spec
}
