pub fn _x() {}

pub mod cache;
#[cfg(feature = "test-support")]
pub mod test_support;
