//! `kubectl kapture delete`: everything labelled part-of=kapture, in reverse apply order; with
//! `--namespace-too`, the namespace, after naming what else it holds.
use anyhow::Result;
use serde::Serialize;

use crate::cli::delete::DeleteArgs;
use crate::cli::GlobalArgs;
use crate::foreign::{self, KindName};
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
    pub objects: Vec<KindName>,
    pub namespace_deleted: bool,
    /// Objects not Kapture's that go with the namespace; `None` when the namespace stays.
    pub foreign: Option<Vec<KindName>>,
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
        let mut lines = vec![line];
        if let Some(others) = &self.foreign {
            lines.extend(foreign::report_lines(&self.namespace, others, self.dry_run));
        }
        lines
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
    // What --namespace-too looks at to find objects that are not Kapture's.
    let census: Vec<(String, String)> = foreign::KINDS
        .iter()
        .map(|(v, k)| (v.to_string(), k.to_string()))
        .collect();
    let mut wanted = kinds.clone();
    if args.namespace_too {
        wanted.extend(census.iter().filter(|k| !kinds.contains(k)).cloned());
    }
    let (resolver, namespace_state) = tokio::try_join!(
        discovery::discover(&cluster, &wanted),
        workloads::namespace_state(&cluster)
    )?;
    let delete_namespace = args.namespace_too && namespace_state == NamespaceState::Ours;
    if args.namespace_too && namespace_state == NamespaceState::Foreign {
        eprintln!(
            "Keeping namespace {}: Kapture did not create it.",
            cluster.namespace
        );
    }
    // Deleting the namespace deletes whatever it holds: find what is not Kapture's first.
    let (owned, others) =
        tokio::try_join!(cleanup::list_owned(&cluster, &resolver, &kinds), async {
            if !delete_namespace {
                return Ok(None);
            }
            let listed = cleanup::list_all(&cluster, &resolver, &census).await?;
            Ok::<_, anyhow::Error>(Some(foreign::foreign(&listed)))
        })?;
    let report = DeleteReport {
        context: cluster.context.clone(),
        namespace: cluster.namespace.clone(),
        dry_run: args.dry_run,
        objects: owned
            .iter()
            .flat_map(|o: &Owned| {
                o.names.iter().map(|n| KindName {
                    kind: o.kind.resource.kind.clone(),
                    name: n.clone(),
                })
            })
            .collect(),
        namespace_deleted: delete_namespace,
        foreign: others,
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
    let question = format!(
        "Delete {} Kapture objects in namespace {:?}{also} on context {:?}?",
        report.objects.len(),
        cluster.namespace,
        cluster.context
    );
    let question = match &report.foreign {
        Some(others) => {
            let note = foreign::prompt_note(&cluster.namespace, others);
            if global.yes && !others.is_empty() {
                eprintln!("note: {note}");
            }
            format!("{note} {question}")
        }
        None => question,
    };
    crate::prompt::confirm(&question, global.yes)?;
    cleanup::delete_owned(&cluster, &owned).await?;
    if args.wait {
        cleanup::wait_gone(&cluster, &resolver, &kinds, args.timeout).await?;
    }
    if delete_namespace {
        workloads::delete_namespace(&cluster, args.wait.then_some(args.timeout)).await?;
    }
    output::print(global.output, &report)
}
