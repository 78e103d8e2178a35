use hub_macros::cached_api;

#[cached_api]
struct NotAnImpl {
    field: u32,
}

fn main() {}
