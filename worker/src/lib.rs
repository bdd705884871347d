//! `kapture-worker`: the workload roles (generator model, order service, router, sinks) and the
//! integrity verifier. The plugin deploys it; it is a package of its own so that the plugin
//! links none of what only the worker uses (see docs/architecture.md).
//!
//! What it promises the manifests (topics, ports, addresses, environment variables) is written in
//! `kapture::contract`.
pub mod acks;
pub mod cli;
pub mod consume;
pub mod create_topics;
pub mod dead_letter;
pub mod kafka_config;
pub mod loadgen;
pub mod metrics;
pub mod model;
pub mod names;
pub mod offsets;
pub mod order_service;
pub mod rate;
pub mod redis_conn;
pub mod retry;
pub mod router;
pub mod shutdown;
pub mod sink_mongo;
pub mod sink_postgres;
pub mod sink_redis;
pub mod stats;
pub mod transaction;
pub mod validation;
pub mod verify;
pub mod verify_run;
