//! Thin I/O against the Kubernetes API.
pub mod client;
pub mod errors;
pub mod pods;

pub use client::{connect, connect_with_retry, Cluster};
