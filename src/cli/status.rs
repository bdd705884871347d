//! Arguments of `kubectl kapture status`.
use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Exit code: 0 when Kapture is deployed in the namespace, 1 when it is absent.\n\n\
Examples:\n  kubectl kapture status\n  kubectl kapture status -o json | jq '.components[] | select(.state != \"Ready\")'\n  \
kubectl kapture status --watch"
)]
pub struct StatusArgs {
    /// Refresh the table in place until interrupted (Ctrl-C).
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Refresh interval of --watch.
    #[arg(long, default_value = "2s", value_parser = parse_duration, requires = "watch")]
    pub interval: Duration,
}
