//! Client construction the kubectl way: --kubeconfig, then $KUBECONFIG, then ~/.kube/config;
//! --context, else the current context.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::error::KaptureError;

/// Which cluster and namespace to talk to, as kubectl's flags say it.
#[derive(Debug, Clone, Default)]
pub struct ClusterChoice {
    /// None: $KUBECONFIG, then ~/.kube/config.
    pub kubeconfig: Option<PathBuf>,
    /// None: the kubeconfig's current context.
    pub context: Option<String>,
    pub namespace: String,
}

/// A connected cluster and the names the user should see in prompts and messages.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub context: String,
    pub namespace: String,
    pub server: String,
}

impl Cluster {
    /// The API of a namespaced kind in the chosen namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
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
pub async fn connect(choice: &ClusterChoice) -> Result<Cluster> {
    let kubeconfig = read_kubeconfig(choice.kubeconfig.as_deref())?;
    let context = match &choice.context {
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
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("cannot use context {context:?}"))?;
    // kube retries 429/503/504 for minutes by default. A CLI answers at once instead, and a
    // 429 is often an answer, not overload (an eviction blocked by a PodDisruptionBudget).
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).context("cannot build a Kubernetes client")?;
    Ok(Cluster {
        client,
        context,
        namespace: choice.namespace.clone(),
        server,
    })
}
