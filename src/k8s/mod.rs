//! Thin I/O against the Kubernetes API.
pub mod client;
pub mod errors;

pub use client::{connect, Cluster};
