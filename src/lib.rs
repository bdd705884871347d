//! kubectl-kapture: deploy, observe and break a simulated enterprise data flow on Kubernetes.
pub mod chaos;
pub mod cli;
pub mod commands;
pub mod component;
pub mod contract;
pub mod diagnose;
pub mod error;
pub mod images;
pub mod impact;
pub mod k8s;
pub mod kafka;
pub mod manifests;
pub mod output;
pub mod prompt;
pub mod status;
pub mod verdict;
pub mod verifier;
