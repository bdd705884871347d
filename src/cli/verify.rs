//! Arguments of `kubectl kapture verify`.
use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Runs `kapture-worker verify` in the namespace as a Job (the workload's image and \
settings) and prints its verdict: every acknowledged transaction must be in Postgres exactly once \
and the Redis aggregates must equal those computed from Postgres.\n\
Verification needs a quiet flow: while the load generator runs, transactions in flight would \
count as lost. --stop-load scales it to 0 first; `kubectl kapture deploy` again resumes it.\n\n\
Exit code: 0 when nothing acknowledged was lost or duplicated, 1 when something was (or the \
verifier failed), 2 when the load generator runs and --stop-load was not given.\n\n\
Examples:\n  kubectl kapture verify --stop-load\n  kubectl kapture verify -o json | jq '.lost, .duplicated'"
)]
pub struct VerifyArgs {
    /// Scale the load generator to 0 and wait for its pods to finish before verifying.
    #[arg(long)]
    pub stop_load: bool,
    /// How long the verifier waits for the sinks to catch up with what was acknowledged.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub settle: Duration,
    /// Bound on the whole verification (stopping the load, the Job, its verdict).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Keep the verifier Job afterwards (to read its log with kubectl).
    #[arg(long)]
    pub keep_job: bool,
}
