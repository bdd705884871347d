//! Client construction the kubectl way: --kubeconfig, then $KUBECONFIG, then ~/.kube/config;
//! --context, else the current context.
use std::path::Path;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cli::GlobalArgs;
use crate::error::KaptureError;

/// A connected cluster and the names the user should see in prompts and messages.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub context: String,
    pub namespace: String,
    pub server: String,
}

fn read_kubeconfig(path: Option<&Path>) -> Result<Kubeconfig> {
    match path {
        Some(path) => Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {}", path.display())),
        None => Kubeconfig::read().context(
            "cannot read a kubeconfig from $KUBECONFIG or ~/.kube/config (pass --kubeconfig)",
        ),
    }
}

/// Builds a client for the chosen context. Does not contact the cluster.
pub async fn connect(global: &GlobalArgs) -> Result<Cluster> {
    let kubeconfig = read_kubeconfig(global.kubeconfig.as_deref())?;
    let context = match &global.context {
        Some(name) => {
            if !kubeconfig.contexts.iter().any(|c| &c.name == name) {
                let known: Vec<_> = kubeconfig
                    .contexts
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(KaptureError::InvalidInput(format!(
                    "context {name:?} not found in kubeconfig (known: {})",
                    known.join(", ")
                ))
                .into());
            }
            name.clone()
        }
        None => kubeconfig.current_context.clone().ok_or_else(|| {
            KaptureError::InvalidInput(
                "the kubeconfig has no current context: pass --context".to_string(),
            )
        })?,
    };
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("cannot use context {context:?}"))?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).context("cannot build a Kubernetes client")?;
    Ok(Cluster {
        client,
        context,
        namespace: global.namespace.clone(),
        server,
    })
}
