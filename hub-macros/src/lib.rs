//! Attribute macros for hub response caching.
