//! `--kafka-bootstrap`: a Kafka that Kapture uses but does not deploy (Strimzi, MSK, a laptop
//! broker). Pure: parsing, and whether the address names a Service of the cluster (then the
//! plugin reaches it from outside through port-forwards, as it does its own brokers).
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::Container;
use serde::{Deserialize, Serialize};

use crate::contract::env;
use crate::manifests::OWN_KAFKA_BOOTSTRAP;

/// A Kafka bootstrap list, `HOST:PORT[,HOST:PORT...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bootstrap(Vec<(String, u16)>);

/// A Service of the cluster named by a bootstrap address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddress {
    pub name: String,
    /// `None`: the namespace the command runs in.
    pub namespace: Option<String>,
    pub port: u16,
}

impl FromStr for Bootstrap {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let servers = text
            .split(',')
            .map(|server| {
                let server = server.trim();
                let (host, port) = server.rsplit_once(':').ok_or_else(|| {
                    format!("{server:?}: expected HOST:PORT, e.g. my-cluster-kafka-bootstrap.kafka.svc:9092")
                })?;
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{server:?}: {port:?} is not a port"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let valid = !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
                if !valid {
                    return Err(format!("{server:?}: {host:?} is not a host name or address"));
                }
                Ok((host.to_ascii_lowercase(), port))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Bootstrap(servers))
    }
}

impl TryFrom<String> for Bootstrap {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Bootstrap> for String {
    fn from(bootstrap: Bootstrap) -> String {
        bootstrap.to_string()
    }
}

impl fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<String> = self
            .0
            .iter()
            .map(|(host, port)| match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            })
            .collect();
        f.write_str(&servers.join(","))
    }
}

/// The Kafka that a deployment's containers connect to, when it is not Kapture's own: the
/// address `deploy --kafka-bootstrap` gave, read back from the environment the manifests set on
/// every worker role and the topic Job. `None` with Kapture's Kafka, or when no container says.
pub fn external<'a>(containers: impl IntoIterator<Item = &'a Container>) -> Option<Bootstrap> {
    containers
        .into_iter()
        .flat_map(|c| c.env.iter().flatten())
        .find(|var| var.name == env::KAFKA_BOOTSTRAP)
        .and_then(|var| var.value.as_deref())
        .filter(|value| *value != OWN_KAFKA_BOOTSTRAP)
        .and_then(|value| value.parse().ok())
}

impl Bootstrap {
    /// The first server, if it names a Service of the cluster: `<svc>.<ns>.svc[.<domain>]`, or
    /// a bare `<svc>` (a Service in the command's namespace). Addresses with a dot outside
    /// that form, and IP addresses, are outside the cluster.
    pub fn service(&self) -> Option<ServiceAddress> {
        let (host, port) = self.0.first()?;
        let labels: Vec<&str> = host.split('.').collect();
        // Service and namespace names also start with a letter.
        let is_label = |l: &str| {
            crate::dns::is_label(l) && l.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        };
        match labels.as_slice() {
            [name] if is_label(name) && *name != "localhost" => Some(ServiceAddress {
                name: name.to_string(),
                namespace: None,
                port: *port,
            }),
            [name, namespace, "svc", ..] if is_label(name) && is_label(namespace) => {
                Some(ServiceAddress {
                    name: name.to_string(),
                    namespace: Some(namespace.to_string()),
                    port: *port,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_kafka_is_read_back_from_the_workload_environment() {
        let container = |bootstrap: Option<&str>| -> Container {
            let env: Vec<serde_json::Value> = bootstrap
                .map(|b| serde_json::json!({"name": env::KAFKA_BOOTSTRAP, "value": b}))
                .into_iter()
                .chain([serde_json::json!({"name": "OTHER", "value": "x"})])
                .collect();
            serde_json::from_value(serde_json::json!({"name": "c", "env": env})).unwrap()
        };
        let given = [
            container(None),
            container(Some("noida.kafka.svc.cluster.local:9092")),
        ];
        assert_eq!(
            external(&given).map(|b| b.to_string()).as_deref(),
            Some("noida.kafka.svc.cluster.local:9092")
        );
        assert_eq!(external(&[container(Some(OWN_KAFKA_BOOTSTRAP))]), None);
        assert_eq!(external(&[container(None)]), None);
    }

    fn service(text: &str) -> Option<ServiceAddress> {
        text.parse::<Bootstrap>().unwrap().service()
    }

    #[test]
    fn lists_parse_and_print_back() {
        let b: Bootstrap = "b-1.msk.example.com:9096, B-2.msk.example.com:9096"
            .parse()
            .unwrap();
        assert_eq!(
            b.to_string(),
            "b-1.msk.example.com:9096,b-2.msk.example.com:9096"
        );
        let v6: Bootstrap = "[::1]:9092".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:9092");
    }

    #[test]
    fn bad_addresses_are_named() {
        for (bad, why) in [
            ("kafka", "HOST:PORT"),
            ("kafka:0", "not a port"),
            ("kafka:x", "not a port"),
            (":9092", "not a host"),
            ("ka fka:9092", "not a host"),
        ] {
            let err = bad.parse::<Bootstrap>().unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn cluster_services_are_recognised() {
        assert_eq!(
            service("my-cluster-kafka-bootstrap.kafka.svc:9092"),
            Some(ServiceAddress {
                name: "my-cluster-kafka-bootstrap".into(),
                namespace: Some("kafka".into()),
                port: 9092
            })
        );
        assert_eq!(
            service("noida.bench.svc.cluster.local:9092")
                .unwrap()
                .namespace
                .as_deref(),
            Some("bench")
        );
        assert_eq!(
            service("kafka:9092"),
            Some(ServiceAddress {
                name: "kafka".into(),
                namespace: None,
                port: 9092
            })
        );
    }

    #[test]
    fn addresses_outside_the_cluster_are_not_services() {
        for outside in [
            "localhost:9092",
            "127.0.0.1:9092",
            "b-1.msk.example.com:9096",
            "kafka.example:9092",
            "[::1]:9092",
        ] {
            assert_eq!(service(outside), None, "{outside}");
        }
    }

    #[test]
    fn serde_round_trips_through_the_string_form() {
        let b: Bootstrap = "kafka:9092".parse().unwrap();
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"kafka:9092\"");
        assert_eq!(serde_json::from_str::<Bootstrap>(&json).unwrap(), b);
        assert!(serde_json::from_str::<Bootstrap>("\"nope\"").is_err());
    }
}
