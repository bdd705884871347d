//! Kafka: admin I/O (topics, partitions, reassignment), the way to the brokers, and pure
//! partition plans.
pub mod admin;
pub mod bootstrap;
pub mod endpoint;
pub mod plan;
pub mod portforward;
pub mod reassign;
pub mod view;
pub mod wire;
