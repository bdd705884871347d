//! Arguments of `kubectl kapture topics` (placeholder until the command lands).
use clap::Args;

#[derive(Debug, Args)]
pub struct TopicsArgs {}
