//! Arguments of `kubectl kapture scale` (placeholder until the command lands).
use clap::Args;

#[derive(Debug, Args)]
pub struct ScaleArgs {}
