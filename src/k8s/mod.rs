//! Thin I/O against the Kubernetes API.
pub mod client;
pub mod errors;
pub mod statefulset;

pub use client::{connect, Cluster};
