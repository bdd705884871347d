//! Arguments of `kubectl kapture delete`.
use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Only objects labelled app.kubernetes.io/part-of=kapture are deleted, unless \
--namespace-too deletes the namespace: that deletes everything in it, so the objects in it that are \
not Kapture's (Deployments, StatefulSets, Jobs, Pods, Services, ConfigMaps, Secrets, claims, \
service accounts, ...) are named first, in the prompt, the --dry-run list and -o json|yaml (`foreign`).\n\
On a terminal you are asked to confirm, naming the context and namespace; elsewhere pass --yes.\n\n\
Examples:\n  kubectl kapture delete\n  kubectl kapture delete --dry-run\n  \
kubectl kapture delete --namespace-too --dry-run          # also lists what is not Kapture's\n  \
kubectl kapture delete --namespace-too --yes\n  \
kubectl kapture delete --namespace-too --dry-run -o json | jq -r '.foreign[]? | \"\\(.kind)/\\(.name)\"'"
)]
pub struct DeleteArgs {
    /// Delete the namespace as well (only when Kapture created it), and with it whatever else it
    /// holds: named before anything is deleted.
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
