//! Arguments of `kubectl kapture chaos` (placeholder until the command lands).
use clap::Args;

#[derive(Debug, Args)]
pub struct ChaosArgs {}
