//! `kubectl kapture delete`: everything labelled part-of=kapture, in reverse apply order.
use anyhow::Result;
use serde::Serialize;

use crate::cli::delete::DeleteArgs;
use crate::cli::GlobalArgs;
use crate::k8s::cleanup::{self, Owned};
use crate::k8s::workloads::{self, NamespaceState};
use crate::k8s::{self, discovery};
use crate::manifests;
use crate::output::{self, Tabular};

#[derive(Debug, Serialize)]
pub struct DeleteReport {
    pub context: String,
    pub namespace: String,
    pub dry_run: bool,
    pub objects: Vec<DeletedObject>,
    pub namespace_deleted: bool,
}

#[derive(Debug, Serialize)]
pub struct DeletedObject {
    pub kind: String,
    pub name: String,
}

impl Tabular for DeleteReport {
    fn header(&self) -> Vec<&'static str> {
        vec!["KIND", "NAME"]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.objects
            .iter()
            .map(|o| vec![o.kind.clone(), o.name.clone()])
            .collect()
    }
    fn footer(&self) -> Vec<String> {
        let verb = if self.dry_run {
            "would be deleted"
        } else {
            "deleted"
        };
        let mut line = format!(
            "\n{} objects {verb} in namespace {} (context {})",
            self.objects.len(),
            self.namespace,
            self.context
        );
        if self.namespace_deleted {
            line.push_str(&format!("; namespace {} {verb}", self.namespace));
        }
        vec![line]
    }
}

/// The kinds delete looks at, in the order they are deleted: the reverse of apply order, then
/// what the workloads leave behind (claims of StatefulSets, pods).
fn deletion_kinds() -> Result<Vec<(String, String)>> {
    let mut kinds = manifests::every_kind()?;
    kinds.reverse();
    kinds.push(("v1".into(), "PersistentVolumeClaim".into()));
    kinds.push(("v1".into(), "Pod".into()));
    Ok(kinds)
}

pub async fn run(global: &GlobalArgs, args: DeleteArgs) -> Result<()> {
    let cluster = k8s::connect(&global.cluster()).await?;
    let kinds = deletion_kinds()?;
    let resolver = discovery::discover(&cluster, &kinds).await?;
    let owned = cleanup::list_owned(&cluster, &resolver, &kinds).await?;
    let namespace_state = workloads::namespace_state(&cluster).await?;
    let delete_namespace = args.namespace_too && namespace_state == NamespaceState::Ours;
    if args.namespace_too && namespace_state == NamespaceState::Foreign {
        eprintln!(
            "Keeping namespace {}: Kapture did not create it.",
            cluster.namespace
        );
    }
    let report = DeleteReport {
        context: cluster.context.clone(),
        namespace: cluster.namespace.clone(),
        dry_run: args.dry_run,
        objects: owned
            .iter()
            .flat_map(|o: &Owned| {
                o.names.iter().map(|n| DeletedObject {
                    kind: o.kind.resource.kind.clone(),
                    name: n.clone(),
                })
            })
            .collect(),
        namespace_deleted: delete_namespace,
    };
    if report.objects.is_empty() && !delete_namespace {
        output::print(global.output, &report)?;
        eprintln!(
            "Nothing to delete: no Kapture objects in namespace {}.",
            cluster.namespace
        );
        return Ok(());
    }
    if args.dry_run {
        return output::print(global.output, &report);
    }
    let also = if delete_namespace {
        " and the namespace itself"
    } else {
        ""
    };
    crate::prompt::confirm(
        &format!(
            "Delete {} Kapture objects in namespace {:?}{also} on context {:?}?",
            report.objects.len(),
            cluster.namespace,
            cluster.context
        ),
        global.yes,
    )?;
    cleanup::delete_owned(&cluster, &owned).await?;
    if args.wait {
        cleanup::wait_gone(&cluster, &resolver, &kinds, args.timeout).await?;
    }
    if delete_namespace {
        workloads::delete_namespace(&cluster, args.wait.then_some(args.timeout)).await?;
    }
    output::print(global.output, &report)
}
