//! Arguments of `kubectl kapture delete`.
use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Only objects labelled app.kubernetes.io/part-of=kapture are deleted.\n\
On a terminal you are asked to confirm, naming the context and namespace; elsewhere pass --yes.\n\n\
Examples:\n  kubectl kapture delete\n  kubectl kapture delete --namespace-too --yes\n  kubectl kapture delete --dry-run"
)]
pub struct DeleteArgs {
    /// Delete the namespace as well (only when Kapture created it).
    #[arg(long)]
    pub namespace_too: bool,
    /// List what would be deleted and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until every object is gone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub wait: bool,
    /// How long to wait for the objects to disappear.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,
}
