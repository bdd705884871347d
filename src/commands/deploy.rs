//! `kubectl kapture deploy`: render, discover, check ownership, apply, optionally wait.
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;

use crate::cli::deploy::DeployArgs;
use crate::cli::{DryRun, GlobalArgs};
use crate::error::{KaptureError, OneLine};
use crate::k8s::apply::{self, Applied, ApplyOptions, Existing, Outcome};
use crate::k8s::discovery;
use crate::k8s::workloads::{self, NamespaceState};
use crate::manifests::{self, Manifest};
use crate::output::{self, OutputFormat, Tabular};
use crate::password::{self, Lookup, Store};

/// How long a client dry run waits for the cluster to say whether the Postgres Secret exists.
const SECRET_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What deploy reports on stdout (`-o json|yaml` field names are stable).
#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub context: String,
    pub namespace: String,
    pub dry_run: Option<&'static str>,
    pub objects: Vec<Applied>,
}

impl Tabular for DeployReport {
    fn header(&self) -> Vec<&'static str> {
        vec!["COMPONENT", "KIND", "NAME", "RESULT"]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.objects
            .iter()
            .map(|o| {
                let result = serde_json::to_value(o.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from));
                vec![
                    o.component.to_string(),
                    o.kind.clone(),
                    o.name.clone(),
                    result.unwrap_or_default(),
                ]
            })
            .collect()
    }
    fn footer(&self) -> Vec<String> {
        let count = |wanted: Outcome| self.objects.iter().filter(|o| o.outcome == wanted).count();
        let changed = count(Outcome::Created) + count(Outcome::Configured);
        if self.dry_run == Some("client") {
            return vec![format!(
                "\n{} objects rendered; nothing was sent (use -o yaml for the manifests)",
                self.objects.len()
            )];
        }
        let suffix = if self.dry_run.is_some() {
            " (dry run: nothing was stored)"
        } else {
            ""
        };
        let line = if changed == 0 {
            format!(
                "\nNothing changed: namespace {} already matches these parameters{suffix}.",
                self.namespace
            )
        } else {
            format!(
                "\n{} created, {} configured, {} unchanged in namespace {} (context {}){suffix}",
                count(Outcome::Created),
                count(Outcome::Configured),
                count(Outcome::Unchanged) + count(Outcome::Kept),
                self.namespace,
                self.context
            )
        };
        vec![line]
    }
}

fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

pub async fn run(global: &GlobalArgs, args: DeployArgs) -> Result<()> {
    let mut params = args
        .render_params(&global.namespace)
        .map_err(KaptureError::InvalidInput)?;
    // A normal deploy keeps an existing Secret (`kept`), whatever password was rendered. A
    // client dry run's YAML or JSON is applied by kubectl, which keeps nothing: it carries the
    // password each Secret already holds. The table shows no password and asks nothing.
    let client_manifests =
        args.dry_run == Some(DryRun::Client) && global.output != OutputFormat::Table;
    for store in Store::ALL {
        if !params.components.contains(&store.component()) {
            continue;
        }
        *params.passwords.of_mut(store) = if client_manifests {
            let choice = password::choose(
                store,
                existing_password(global, store).await,
                &global.namespace,
                generate_password,
            );
            match &choice.warning {
                Some(warning) => eprintln!("warning: {warning}"),
                None => tracing::info!(
                    "the output carries the password of Secret {} in namespace {}",
                    store.secret_name(),
                    global.namespace
                ),
            }
            choice.password
        } else {
            generate_password()
        };
    }
    let manifests = manifests::render(&params)?;
    if args.dry_run == Some(DryRun::Client) {
        return print_client_dry_run(global.output, &manifests);
    }
    let cluster = crate::k8s::connect(&global.cluster()).await?;
    let dry_run = args.dry_run == Some(DryRun::Server);
    // The namespace and the API surface are independent questions: ask both at once.
    let kinds = manifests::kinds_in_apply_order(&manifests);
    let (namespace, resolver) = tokio::try_join!(
        workloads::namespace_state(&cluster),
        discovery::discover(&cluster, &kinds)
    )?;
    let existing = match namespace {
        NamespaceState::Absent if dry_run => {
            return Err(KaptureError::InvalidInput(format!(
                "namespace {ns:?} does not exist yet and --dry-run=server can only validate objects in an existing namespace \
                 (kubectl create namespace {ns}, or use --dry-run=client)",
                ns = cluster.namespace
            ))
            .into())
        }
        NamespaceState::Absent => {
            workloads::create_namespace(&cluster, false).await?;
            // A namespace created just now holds nothing: no need to read before applying.
            vec![Existing::Absent; manifests.len()]
        }
        NamespaceState::Ours | NamespaceState::Foreign => {
            apply::check_existing(&cluster, &resolver, &manifests).await?
        }
    };
    let options = ApplyOptions {
        dry_run,
        force_conflicts: args.force_conflicts,
    };
    let objects = apply::apply_all(&cluster, &resolver, &manifests, &existing, options).await?;
    let report = DeployReport {
        context: cluster.context.clone(),
        namespace: cluster.namespace.clone(),
        dry_run: dry_run.then_some("server"),
        objects,
    };
    output::print(global.output, &report)?;
    let wait = args.wait.unwrap_or_else(|| std::io::stderr().is_terminal());
    if wait && !dry_run {
        let started = Instant::now();
        let ready =
            workloads::wait_ready(&cluster, workload_count(&manifests), args.timeout).await?;
        eprintln!(
            "All {ready} workloads ready after {}s.",
            started.elapsed().as_secs()
        );
    }
    Ok(())
}

/// One GET of a store's Secret, bounded: any failure (no kubeconfig, unreachable, forbidden,
/// no answer in time) is an unknown, not an error, because a client dry run needs no cluster.
async fn existing_password(global: &GlobalArgs, store: Store) -> Lookup {
    let read = async {
        let cluster = crate::k8s::connect(&global.cluster()).await?;
        workloads::secret(&cluster, &store.secret_name()).await
    };
    match tokio::time::timeout(SECRET_LOOKUP_TIMEOUT, read).await {
        Ok(Ok(found)) => Lookup::of(found.as_ref()),
        Ok(Err(e)) => Lookup::Unknown(OneLine(&e).to_string()),
        Err(_) => Lookup::Unknown(format!(
            "the cluster did not answer within {}s",
            SECRET_LOOKUP_TIMEOUT.as_secs()
        )),
    }
}

fn workload_count(manifests: &[Manifest]) -> usize {
    manifests
        .iter()
        .filter(|m| matches!(m.kind(), "StatefulSet" | "Deployment" | "Job"))
        .count()
}

/// Client dry run: the rendered objects, never sent. `-o yaml` is a multi-document stream that
/// `kubectl apply -f -` accepts; `-o json` a v1 List.
fn print_client_dry_run(format: OutputFormat, manifests: &[Manifest]) -> Result<()> {
    match format {
        OutputFormat::Yaml => {
            for m in manifests {
                output::write_stdout(&format!("---\n{}", serde_yaml::to_string(&m.object)?))?;
            }
        }
        OutputFormat::Json => {
            let list = serde_json::json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": manifests.iter().map(|m| &m.object).collect::<Vec<_>>(),
            });
            output::write_stdout(&(serde_json::to_string_pretty(&list)? + "\n"))?;
        }
        OutputFormat::Table => {
            let report = DeployReport {
                context: String::new(),
                namespace: manifests
                    .first()
                    .and_then(|m| m.object.metadata.namespace.clone())
                    .unwrap_or_default(),
                dry_run: Some("client"),
                objects: manifests
                    .iter()
                    .map(|m| Applied {
                        component: m.component,
                        kind: m.kind().to_string(),
                        api_version: m.api_version().to_string(),
                        name: m.name().to_string(),
                        outcome: Outcome::Planned,
                    })
                    .collect(),
            };
            output::print(OutputFormat::Table, &report)?;
        }
    }
    Ok(())
}
