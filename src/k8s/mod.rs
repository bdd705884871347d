//! Thin I/O against the Kubernetes API.
pub mod apply;
pub mod cleanup;
pub mod client;
pub mod discovery;
pub mod errors;
pub mod metrics;
pub mod pods;
pub mod statefulset;
pub mod wait;
pub mod workloads;

pub use client::{connect, Cluster, ClusterChoice};
