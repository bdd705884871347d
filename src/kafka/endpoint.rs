//! How the brokers are reached: an address given by the user, or port-forwards to Kapture's
//! broker pods through the API server.
use anyhow::Result;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;

use super::bootstrap::ServiceAddress;
use super::portforward::{Brokers, Forwarder};
use crate::component::Component;
use crate::error::KaptureError;
use crate::k8s::errors::explain_in;
use crate::k8s::{workloads, Cluster};

/// The way to the brokers; port-forwards stay open as long as this value lives.
pub enum Endpoint {
    Direct(String),
    Forwarded(Box<Forwarder>),
}

impl Endpoint {
    /// `bootstrap` when given, else port-forwards to Kapture's own broker pods (for callers
    /// that already know the deployment's Kafka is Kapture's, as `scale` does).
    pub async fn open(bootstrap: Option<&str>, cluster: &Cluster) -> Result<Self> {
        match bootstrap {
            Some(address) => Ok(Endpoint::Direct(address.to_string())),
            None => Self::forward_to(cluster, own_brokers(cluster)).await,
        }
    }

    /// Port-forwards to the brokers: the pods of Kapture's broker StatefulSet, or, when the
    /// deployment uses a Kafka of the cluster given by `--kafka-bootstrap` (`<svc>.<ns>.svc:PORT`),
    /// the pods behind that Service.
    pub async fn forward(cluster: &Cluster) -> Result<Self> {
        let brokers = match workloads::external_kafka(cluster).await? {
            None => own_brokers(cluster),
            Some(bootstrap) => match bootstrap.service() {
                Some(service) => service_brokers(cluster, &service).await?,
                None => return Ok(Endpoint::Direct(bootstrap.to_string())),
            },
        };
        Self::forward_to(cluster, brokers).await
    }

    async fn forward_to(cluster: &Cluster, brokers: Brokers) -> Result<Self> {
        Ok(Endpoint::Forwarded(Box::new(
            Forwarder::start(cluster, brokers).await?,
        )))
    }

    pub fn address(&self) -> String {
        match self {
            Endpoint::Direct(address) => address.clone(),
            Endpoint::Forwarded(forwarder) => forwarder.bootstrap(),
        }
    }

    /// Forwards brokers that started since (nothing to do for a direct address).
    pub async fn refresh(&mut self) -> Result<()> {
        match self {
            Endpoint::Direct(_) => Ok(()),
            Endpoint::Forwarded(forwarder) => forwarder.refresh().await,
        }
    }
}

/// The pods of Kapture's broker StatefulSet.
fn own_brokers(cluster: &Cluster) -> Brokers {
    Brokers::statefulset(cluster, &Component::KafkaBroker.object_name())
}

/// The pods behind the Service an external bootstrap address names, and their Kafka port.
async fn service_brokers(cluster: &Cluster, service: &ServiceAddress) -> Result<Brokers> {
    let namespace = service.namespace.as_deref().unwrap_or(&cluster.namespace);
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    let found = api
        .get_opt(&service.name)
        .await
        .map_err(|e| explain_in(cluster, Some(namespace), "get", "services", e))?
        .ok_or_else(|| {
            KaptureError::NotFound(format!(
                "Service {namespace}/{} of --kafka-bootstrap not found (pass --bootstrap-server)",
                service.name
            ))
        })?;
    let spec = found.spec.unwrap_or_default();
    let selector = spec
        .selector
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            KaptureError::InvalidInput(format!(
                "Service {namespace}/{} selects no pods to port-forward to (pass --bootstrap-server)",
                service.name
            ))
        })?
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    // The Service port's target, when it is a number; a named target is each pod's own port.
    let port = spec
        .ports
        .iter()
        .flatten()
        .find(|p| u16::try_from(p.port).ok() == Some(service.port))
        .map_or(Some(service.port), |p| match &p.target_port {
            Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
            Some(IntOrString::String(_)) => None,
            None => Some(service.port),
        });
    Ok(Brokers {
        namespace: namespace.to_string(),
        selector,
        name_prefix: None,
        port,
        what: format!("Service {namespace}/{}", service.name),
    })
}
