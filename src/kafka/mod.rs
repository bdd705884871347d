//! Kafka: admin I/O (topics, partitions, reassignment) and pure partition plans.
pub mod admin;
pub mod plan;
pub mod portforward;
pub mod reassign;
pub mod view;
