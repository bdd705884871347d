//! Kafka: admin I/O (topics, partitions, reassignment) and pure partition plans.
