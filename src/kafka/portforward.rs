//! Reaching the brokers without a route into the cluster: one local listener per broker pod,
//! each connection tunnelled through the API server's pod port-forward.
//!
//! Kafka clients connect to the addresses brokers advertise in Metadata responses, which are
//! cluster DNS names. rdkafka 0.39 has no hook to rewrite them, so the tunnel rewrites the
//! Metadata responses instead: every advertised broker whose host names a forwarded pod (by
//! pod name or pod IP) is replaced by `127.0.0.1:<its local port>`. All other bytes pass
//! through unchanged.
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use kafka_protocol::messages::{ApiKey, MetadataResponse};
use kafka_protocol::protocol::StrBytes;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use super::wire::{
    decode_response, encode_response, read_frame, request_key, response_correlation_id, write_frame,
};
use crate::k8s::Cluster;
use crate::manifests::SELECTOR;

/// Advertised host (pod name or pod IP) -> local port.
pub type Routes = Arc<RwLock<BTreeMap<String, u16>>>;

const DEFAULT_BROKER_PORT: u16 = 9092;

/// The local port for an advertised host: exact match (pod IP), else its first DNS label
/// (`<pod>.<service>.<namespace>.svc…`).
fn route(routes: &BTreeMap<String, u16>, host: &str) -> Option<u16> {
    routes
        .get(host)
        .or_else(|| routes.get(host.split('.').next()?))
        .copied()
}

/// Rewrites the brokers of a Metadata response payload.
pub fn rewrite_metadata(
    payload: Bytes,
    version: i16,
    routes: &BTreeMap<String, u16>,
) -> Result<Bytes> {
    let (header, mut response) = decode_response::<MetadataResponse>(payload, version)?;
    for broker in &mut response.brokers {
        if let Some(port) = route(routes, broker.host.as_str()) {
            broker.host = StrBytes::from_static_str("127.0.0.1");
            broker.port = i32::from(port);
        }
    }
    encode_response(&header, &response, version)
}

/// Relays one client connection to `upstream`, rewriting Metadata responses.
pub async fn relay<C, U>(client: C, upstream: U, routes: Routes) -> Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rx, mut client_tx) = tokio::io::split(client);
    let (mut up_rx, mut up_tx) = tokio::io::split(upstream);
    // Correlation id -> Metadata version of requests whose responses need rewriting.
    let pending: Mutex<HashMap<i32, i16>> = Mutex::new(HashMap::new());
    let requests = async {
        while let Some(frame) = read_frame(&mut client_rx).await? {
            if let Some((key, version, correlation)) = request_key(&frame) {
                if key == ApiKey::Metadata as i16 {
                    pending.lock().expect("lock").insert(correlation, version);
                }
            }
            write_frame(&mut up_tx, &frame).await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let responses = async {
        while let Some(frame) = read_frame(&mut up_rx).await? {
            let version = response_correlation_id(&frame)
                .and_then(|correlation| pending.lock().expect("lock").remove(&correlation));
            let frame = match version {
                Some(version) => {
                    let routes = routes.read().expect("lock").clone();
                    rewrite_metadata(frame, version, &routes)
                        .context("rewriting a Metadata response")?
                }
                None => frame,
            };
            write_frame(&mut client_tx, &frame).await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    // Either side closing ends the connection.
    tokio::select! {
        r = requests => r,
        r = responses => r,
    }
}

/// Accepts connections on `listener` and relays each to a fresh upstream from `connect`.
pub async fn serve<F, Fut, U>(listener: TcpListener, connect: F, routes: Routes)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<U>> + Send + 'static,
    U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let (upstream, routes) = (connect(), routes.clone());
        tokio::spawn(async move {
            let result = match upstream.await {
                Ok(upstream) => relay(client, upstream, routes).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::debug!("broker tunnel closed: {e:#}");
            }
        });
    }
}

/// Which pods are the brokers to forward to.
#[derive(Debug, Clone)]
pub struct Brokers {
    /// Their namespace.
    pub namespace: String,
    /// A label selector for them.
    pub selector: String,
    /// Only pods named `<prefix><ordinal>` (a StatefulSet's); `None`: every selected pod.
    pub name_prefix: Option<String>,
    /// Their Kafka port; `None`: each pod's port named `kafka` or `client`, else 9092.
    pub port: Option<u16>,
    /// What they are, for messages: "StatefulSet kapture-kafka-broker".
    pub what: String,
}

impl Brokers {
    /// The pods of Kapture's StatefulSet `name` in the command's namespace.
    pub fn statefulset(cluster: &Cluster, name: &str) -> Self {
        Brokers {
            namespace: cluster.namespace.clone(),
            selector: SELECTOR.to_string(),
            name_prefix: Some(format!("{name}-")),
            port: None,
            what: format!("StatefulSet {name}"),
        }
    }
}

/// Local listeners for broker pods, tunnelled through the API server.
pub struct Forwarder {
    cluster: Cluster,
    brokers: Brokers,
    routes: Routes,
    listeners: BTreeMap<String, u16>,
    tasks: tokio::task::JoinSet<()>,
}

impl Forwarder {
    pub async fn start(cluster: &Cluster, brokers: Brokers) -> Result<Self> {
        let mut forwarder = Forwarder {
            cluster: cluster.clone(),
            brokers,
            routes: Routes::default(),
            listeners: BTreeMap::new(),
            tasks: tokio::task::JoinSet::new(),
        };
        forwarder.refresh().await?;
        if forwarder.listeners.is_empty() {
            bail!(
                "no pods of {} to port-forward to (pass --bootstrap-server)",
                forwarder.brokers.what
            );
        }
        Ok(forwarder)
    }

    /// `127.0.0.1:port,…` of every forwarded broker.
    pub fn bootstrap(&self) -> String {
        self.listeners
            .values()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Forwards broker pods that appeared since the last call (after a scale-up).
    pub async fn refresh(&mut self) -> Result<()> {
        let pods: Api<Pod> = Api::namespaced(self.cluster.client.clone(), &self.brokers.namespace);
        let list = pods
            .list(&ListParams::default().labels(&self.brokers.selector))
            .await
            .map_err(|e| {
                crate::k8s::errors::explain_in(
                    &self.cluster,
                    Some(&self.brokers.namespace),
                    "list",
                    "pods",
                    e,
                )
            })?;
        for pod in list.items {
            let name = pod.name_any();
            let wanted = match &self.brokers.name_prefix {
                Some(prefix) => name
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|o| o.parse::<u32>().is_ok()),
                None => true,
            };
            if !wanted || self.listeners.contains_key(&name) {
                continue;
            }
            let port = self.brokers.port.unwrap_or_else(|| broker_port(&pod));
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding a local port")?;
            let local = listener.local_addr()?.port();
            {
                let mut routes = self.routes.write().expect("lock");
                routes.insert(name.clone(), local);
                if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()) {
                    routes.insert(ip, local);
                }
            }
            let (api, pod_name) = (pods.clone(), name.clone());
            let connect = move || {
                let (api, pod_name) = (api.clone(), pod_name.clone());
                async move {
                    let mut forward = api
                        .portforward(&pod_name, &[port])
                        .await
                        .with_context(|| format!("port-forward to pod {pod_name}:{port}"))?;
                    forward.take_stream(port).context("port-forward stream")
                }
            };
            self.tasks
                .spawn(serve(listener, connect, self.routes.clone()));
            eprintln!("forwarding 127.0.0.1:{local} -> pod {name}:{port}");
            self.listeners.insert(name, local);
        }
        Ok(())
    }
}

/// The pod's Kafka client port: a container port named `kafka` or `client`, else 9092.
fn broker_port(pod: &Pod) -> u16 {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| matches!(p.name.as_deref(), Some("kafka" | "client")))
        .and_then(|p| u16::try_from(p.container_port).ok())
        .unwrap_or(DEFAULT_BROKER_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::{BrokerId, ResponseHeader};
    use kafka_protocol::protocol::Message;

    fn metadata(hosts: &[&str]) -> MetadataResponse {
        MetadataResponse::default().with_brokers(
            hosts
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(i as i32))
                        .with_host(StrBytes::from_string(h.to_string()))
                        .with_port(9092)
                })
                .collect(),
        )
    }

    #[test]
    fn metadata_brokers_are_rewritten_to_local_ports_at_every_version() {
        let routes = BTreeMap::from([
            ("kapture-kafka-broker-0".to_string(), 40001),
            ("10.1.2.3".to_string(), 40002),
        ]);
        let original = metadata(&[
            "kapture-kafka-broker-0.kapture-kafka-broker.ns.svc.cluster.local",
            "10.1.2.3",
            "elsewhere",
        ]);
        for version in MetadataResponse::VERSIONS.min..=MetadataResponse::VERSIONS.max {
            let header = ResponseHeader::default().with_correlation_id(5);
            let payload = encode_response(&header, &original, version).unwrap();
            let out = rewrite_metadata(payload, version, &routes).unwrap();
            let (header, rewritten) = decode_response::<MetadataResponse>(out, version).unwrap();
            assert_eq!(header.correlation_id, 5);
            let addrs: Vec<(String, i32)> = rewritten
                .brokers
                .iter()
                .map(|b| (b.host.to_string(), b.port))
                .collect();
            assert_eq!(
                addrs,
                vec![
                    ("127.0.0.1".into(), 40001),
                    ("127.0.0.1".into(), 40002),
                    ("elsewhere".into(), 9092)
                ],
                "version {version}"
            );
        }
    }

    #[test]
    fn broker_port_prefers_a_named_port() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "spec": { "containers": [ { "name": "k", "ports": [
                { "name": "metrics", "containerPort": 9404 }, { "name": "kafka", "containerPort": 9094 } ] } ] }
        }))
        .unwrap();
        assert_eq!(broker_port(&pod), 9094);
        assert_eq!(broker_port(&Pod::default()), DEFAULT_BROKER_PORT);
    }
}
