//! Partition reassignment over the Kafka wire protocol (AlterPartitionReassignments, API key
//! 45; ListPartitionReassignments, 46; IncrementalAlterConfigs, 44, for the throttle).
//! librdkafka has no API for these, so requests are built here with the `kafka-protocol`
//! types and sent over a plain TCP connection in the frames of [`super::wire`].
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey,
    ApiVersionsRequest, BrokerId, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Message, Request, StrBytes};
use tokio::net::TcpStream;

use super::plan::Move;
use super::wire::{decode_response, encode_request, read_frame, write_frame};

const CLIENT_ID: &str = "kubectl-kapture";
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The AlterPartitionReassignments request that moves partitions to `moves[*].to`.
pub fn alter_request(moves: &[Move], timeout: Duration) -> AlterPartitionReassignmentsRequest {
    let mut topics: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for m in moves {
        topics.entry(&m.topic).or_default().push(
            ReassignablePartition::default()
                .with_partition_index(m.partition)
                .with_replicas(Some(m.to.iter().map(|&b| BrokerId(b)).collect())),
        );
    }
    AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(millis(timeout))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    ReassignableTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// Errors of an AlterPartitionReassignments response as one message, or Ok.
pub fn check_alter_response(response: &AlterPartitionReassignmentsResponse) -> Result<()> {
    let mut errors = Vec::new();
    if response.error_code != 0 {
        errors.push(describe_error(
            response.error_code,
            response.error_message.as_ref(),
        ));
    }
    for topic in &response.responses {
        for p in &topic.partitions {
            if p.error_code != 0 {
                errors.push(format!(
                    "{}/{}: {}",
                    topic.name.0.as_str(),
                    p.partition_index,
                    describe_error(p.error_code, p.error_message.as_ref())
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("the reassignment was rejected: {}", errors.join("; "))
    }
}

/// The partitions still being reassigned, from a ListPartitionReassignments response.
pub fn ongoing(response: &ListPartitionReassignmentsResponse) -> Result<BTreeSet<(String, i32)>> {
    if response.error_code != 0 {
        bail!(
            "cannot list partition reassignments: {}",
            describe_error(response.error_code, response.error_message.as_ref())
        );
    }
    Ok(response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index))
        })
        .collect())
}

/// Per-topic throttle configs for `moves`: which replicas the rate applies to, as
/// `partition:broker` lists (current replicas as leaders, since they send; added replicas as
/// followers, since they copy). `set` false deletes them.
pub fn topic_throttle(moves: &[Move], set: bool) -> IncrementalAlterConfigsRequest {
    let mut leaders: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut followers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in moves.iter().filter(|m| !m.is_leader_only()) {
        let l = leaders.entry(&m.topic).or_default();
        l.extend(m.from.iter().map(|b| format!("{}:{b}", m.partition)));
        let f = followers.entry(&m.topic).or_default();
        f.extend(m.added.iter().map(|b| format!("{}:{b}", m.partition)));
    }
    let resources = leaders
        .iter()
        .map(|(topic, l)| {
            let (l, f) = (l.join(","), followers[topic].join(","));
            let values = if set {
                [Some(l.as_str()), Some(f.as_str())]
            } else {
                [None, None]
            };
            resource(
                RESOURCE_TOPIC,
                topic,
                &[(REPLICAS_LEADER, values[0]), (REPLICAS_FOLLOWER, values[1])],
            )
        })
        .collect();
    IncrementalAlterConfigsRequest::default().with_resources(resources)
}

/// The replication rate of one broker (`None` deletes it). Like Kafka's own reassignment
/// tool, the rate is set per broker, and each broker is asked itself: ZooKeeper-mode brokers
/// only accept per-broker changes for their own id.
pub fn broker_throttle(
    broker: i32,
    bytes_per_second: Option<u64>,
) -> IncrementalAlterConfigsRequest {
    let rate = bytes_per_second.map(|r| r.to_string());
    let rate = rate.as_deref();
    IncrementalAlterConfigsRequest::default().with_resources(vec![resource(
        RESOURCE_BROKER,
        &broker.to_string(),
        &[(RATE_LEADER, rate), (RATE_FOLLOWER, rate)],
    )])
}

/// Brokers that send or receive data in `moves`.
pub fn throttled_brokers(moves: &[Move]) -> BTreeSet<i32> {
    moves
        .iter()
        .filter(|m| !m.is_leader_only())
        .flat_map(|m| m.from.iter().chain(&m.to).copied())
        .collect()
}

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const RATE_LEADER: &str = "leader.replication.throttled.rate";
const RATE_FOLLOWER: &str = "follower.replication.throttled.rate";
const REPLICAS_LEADER: &str = "leader.replication.throttled.replicas";
const REPLICAS_FOLLOWER: &str = "follower.replication.throttled.replicas";

/// `Some(value)` sets, `None` deletes.
fn resource(kind: i8, name: &str, configs: &[(&str, Option<&str>)]) -> AlterConfigsResource {
    AlterConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(StrBytes::from_string(name.to_string()))
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    AlterableConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_config_operation(if v.is_some() { OP_SET } else { OP_DELETE })
                        .with_value(v.map(|v| StrBytes::from_string(v.to_string())))
                })
                .collect(),
        )
}

fn check_configs_response(response: &IncrementalAlterConfigsResponse) -> Result<()> {
    let errors: Vec<String> = response
        .responses
        .iter()
        .filter(|r| r.error_code != 0)
        .map(|r| {
            format!(
                "{}: {}",
                r.resource_name.as_str(),
                describe_error(r.error_code, r.error_message.as_ref())
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("cannot set the replication throttle: {}", errors.join("; "))
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn describe_error(code: i16, message: Option<&StrBytes>) -> String {
    let name = kafka_protocol::ResponseError::try_from_code(code)
        .map(|e| format!("{e:?}"))
        .unwrap_or_else(|| format!("error code {code}"));
    match message {
        Some(m) if !m.is_empty() => format!("{name} ({})", m.as_str()),
        _ => name,
    }
}

/// The highest version both sides speak, or None.
pub fn common_version<R: Message>(broker: &BTreeMap<i16, (i16, i16)>, key: i16) -> Option<i16> {
    let &(min, max) = broker.get(&key)?;
    let (min, max) = (min.max(R::VERSIONS.min), max.min(R::VERSIONS.max));
    (min <= max).then_some(max)
}

/// A connection to one broker that knows which API versions it speaks.
pub struct Connection {
    address: String,
    stream: TcpStream,
    correlation_id: i32,
    versions: BTreeMap<i16, (i16, i16)>,
}

impl Connection {
    /// Connects to the first reachable address of a `host:port[,host:port]` list.
    pub async fn open(bootstrap: &str) -> Result<Self> {
        let mut last = None;
        for address in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Self::open_one(address).await {
                Ok(conn) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("no broker address in {bootstrap:?}")))
    }

    async fn open_one(address: &str) -> Result<Self> {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| anyhow!("connecting to {address} timed out"))?
            .with_context(|| format!("cannot connect to the broker at {address}"))?;
        let mut conn = Connection {
            address: address.to_string(),
            stream,
            correlation_id: 0,
            versions: BTreeMap::new(),
        };
        // Version 0 is understood by every broker (and never removed), whatever it runs.
        let response = conn.send(&ApiVersionsRequest::default(), 0).await?;
        if response.error_code != 0 {
            bail!(
                "ApiVersions failed at {address}: {}",
                describe_error(response.error_code, None)
            );
        }
        conn.versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(conn)
    }

    /// The version to use for `R`, or an error saying the broker lacks the API.
    fn version<R: Request>(&self, what: &str) -> Result<i16> {
        common_version::<R>(&self.versions, R::KEY).ok_or_else(|| {
            anyhow!(
                "the broker at {} does not support {what} (API key {})",
                self.address,
                R::KEY
            )
        })
    }

    /// Brokers (with racks) and the controller id; no topics.
    async fn metadata(&mut self) -> Result<MetadataResponse> {
        let version = self.version::<MetadataRequest>("metadata")?;
        // An empty topic list: version 0 answers with every topic, later versions with none.
        let request = MetadataRequest::default().with_topics(Some(Vec::new()));
        self.send(&request, version).await
    }

    async fn send<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let payload = encode_request(request, version, self.correlation_id, CLIENT_ID)?;
        let exchange = async {
            write_frame(&mut self.stream, &payload).await?;
            read_frame(&mut self.stream)
                .await?
                .context("the broker closed the connection")
        };
        let api = ApiKey::try_from(R::KEY)
            .map(|k| format!("{k:?}"))
            .unwrap_or_else(|_| R::KEY.to_string());
        let payload = tokio::time::timeout(IO_TIMEOUT, exchange)
            .await
            .map_err(|_| anyhow!("{api} request to {} timed out", self.address))?
            .with_context(|| format!("{api} request to {}", self.address))?;
        let (header, response) = decode_response::<R::Response>(payload, version)
            .with_context(|| format!("cannot decode the {api} response of {}", self.address))?;
        let correlation_id = header.correlation_id;
        if correlation_id != self.correlation_id {
            bail!(
                "{api} response of {} answers request {correlation_id}, not {}",
                self.address,
                self.correlation_id
            );
        }
        Ok(response)
    }
}

/// `broker.rack` of every broker (None when unset). librdkafka's metadata leaves racks out.
pub async fn broker_racks(address: &str) -> Result<BTreeMap<i32, Option<String>>> {
    let mut conn = Connection::open(address).await?;
    let response = conn.metadata().await?;
    Ok(response
        .brokers
        .iter()
        .map(|b| (b.node_id.0, b.rack.as_ref().map(|r| r.to_string())))
        .collect())
}

/// Reassigns partitions through the controller (ZooKeeper mode) or any broker (KRaft, where
/// brokers forward to the controller quorum).
pub struct Reassigner {
    conn: Connection,
    /// Broker id -> advertised address, for the per-broker throttle.
    brokers: BTreeMap<i32, String>,
}

impl Reassigner {
    /// Connects to `bootstrap`, checks that the APIs exist, and moves to the active
    /// controller when the cluster names a broker as one.
    pub async fn connect(bootstrap: &str) -> Result<Self> {
        let conn = Connection::open(bootstrap).await?;
        if common_version::<AlterPartitionReassignmentsRequest>(
            &conn.versions,
            ApiKey::AlterPartitionReassignments as i16,
        )
        .is_none()
        {
            bail!(
                "the broker at {} does not support partition reassignment (API key {}); \
                 use --no-rebalance to scale without moving replicas",
                conn.address,
                ApiKey::AlterPartitionReassignments as i16
            );
        }
        conn.version::<ListPartitionReassignmentsRequest>("listing partition reassignments")?;
        let mut reassigner = Reassigner {
            conn,
            brokers: BTreeMap::new(),
        };
        if let Some(controller) = reassigner.controller_address().await? {
            if controller != reassigner.conn.address {
                reassigner.conn = Connection::open(&controller).await?;
            }
        }
        Ok(reassigner)
    }

    /// The address of the broker that is the controller, when one is (ZooKeeper mode). In
    /// KRaft the id is a random broker, which forwards; connecting to it is harmless.
    async fn controller_address(&mut self) -> Result<Option<String>> {
        let response = self.conn.metadata().await?;
        self.brokers = response
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        Ok(response
            .brokers
            .iter()
            .find(|b| b.node_id == response.controller_id)
            .map(|b| format!("{}:{}", b.host.as_str(), b.port)))
    }

    pub async fn throttle(&mut self, moves: &[Move], bytes_per_second: u64) -> Result<()> {
        self.alter_configs(&topic_throttle(moves, true)).await?;
        for broker in throttled_brokers(moves) {
            self.alter_broker_config(broker, &broker_throttle(broker, Some(bytes_per_second)))
                .await?;
        }
        Ok(())
    }

    /// Removes what [`Reassigner::throttle`] set.
    pub async fn unthrottle(&mut self, moves: &[Move]) -> Result<()> {
        self.alter_configs(&topic_throttle(moves, false)).await?;
        for broker in throttled_brokers(moves) {
            self.alter_broker_config(broker, &broker_throttle(broker, None))
                .await?;
        }
        Ok(())
    }

    async fn alter_configs(&mut self, request: &IncrementalAlterConfigsRequest) -> Result<()> {
        let version = self
            .conn
            .version::<IncrementalAlterConfigsRequest>("incremental config changes")?;
        check_configs_response(&self.conn.send(request, version).await?)
    }

    /// Sends a per-broker config change to that broker.
    async fn alter_broker_config(
        &mut self,
        broker: i32,
        request: &IncrementalAlterConfigsRequest,
    ) -> Result<()> {
        let address = self
            .brokers
            .get(&broker)
            .cloned()
            .ok_or_else(|| anyhow!("broker {broker} is not in the cluster metadata"))?;
        if address == self.conn.address {
            return self.alter_configs(request).await;
        }
        let mut conn = Connection::open(&address).await?;
        let version =
            conn.version::<IncrementalAlterConfigsRequest>("incremental config changes")?;
        check_configs_response(&conn.send(request, version).await?)
    }

    pub async fn start(&mut self, moves: &[Move]) -> Result<()> {
        let version = self
            .conn
            .version::<AlterPartitionReassignmentsRequest>("partition reassignment")?;
        let response = self
            .conn
            .send(&alter_request(moves, IO_TIMEOUT), version)
            .await?;
        check_alter_response(&response)
    }

    /// Which of `moves` are still in progress.
    pub async fn in_progress(&mut self, moves: &[Move]) -> Result<BTreeSet<(String, i32)>> {
        let version = self
            .conn
            .version::<ListPartitionReassignmentsRequest>("listing partition reassignments")?;
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for m in moves {
            topics.entry(&m.topic).or_default().push(m.partition);
        }
        let request = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(millis(IO_TIMEOUT))
            .with_topics(Some(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        ListPartitionReassignmentsTopics::default()
                            .with_name(topic_name(t))
                            .with_partition_indexes(ps)
                    })
                    .collect(),
            ));
        let response = self.conn.send(&request, version).await?;
        ongoing(&response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::wire::encode_response;
    use bytes::Bytes;
    use kafka_protocol::messages::alter_partition_reassignments_response::{
        ReassignablePartitionResponse, ReassignableTopicResponse,
    };
    use kafka_protocol::messages::list_partition_reassignments_response::{
        OngoingPartitionReassignment, OngoingTopicReassignment,
    };
    use kafka_protocol::messages::ResponseHeader;
    use kafka_protocol::protocol::decode_request_header_from_buffer;
    use kafka_protocol::protocol::Decodable;

    fn mv(topic: &str, partition: i32, from: &[i32], to: &[i32]) -> Move {
        Move {
            topic: topic.into(),
            partition,
            from: from.to_vec(),
            to: to.to_vec(),
            added: to.iter().copied().filter(|b| !from.contains(b)).collect(),
            removed: from.iter().copied().filter(|b| !to.contains(b)).collect(),
        }
    }

    /// The body of a request payload, past its header.
    fn request_body(payload: Bytes) -> Bytes {
        let mut payload = payload;
        decode_request_header_from_buffer(&mut payload).unwrap();
        payload
    }

    /// `response` encoded as a broker answers and decoded again as the client reads it.
    fn answered<R: Request>(response: &R::Response, version: i16) -> R::Response {
        let header = ResponseHeader::default().with_correlation_id(9);
        let payload = encode_response(&header, response, version).unwrap();
        decode_response::<R::Response>(payload, version).unwrap().1
    }

    #[test]
    fn alter_request_round_trips_at_every_version() {
        let moves = vec![
            mv("orders", 0, &[1, 2], &[1, 3]),
            mv("orders", 4, &[2, 1], &[3, 2]),
            mv("audit", 1, &[0], &[4]),
        ];
        let request = alter_request(&moves, Duration::from_secs(30));
        assert_eq!(request.topics.len(), 2);
        for version in AlterPartitionReassignmentsRequest::VERSIONS.min
            ..=AlterPartitionReassignmentsRequest::VERSIONS.max
        {
            let payload = encode_request(&request, version, 42, CLIENT_ID).unwrap();
            let mut payload = request_body(payload);
            let decoded =
                AlterPartitionReassignmentsRequest::decode(&mut payload, version).unwrap();
            assert_eq!(decoded, request, "version {version}");
            assert!(payload.is_empty());
        }
        let orders = request
            .topics
            .iter()
            .find(|t| t.name.0.as_str() == "orders")
            .unwrap();
        assert_eq!(
            orders.partitions[1].replicas,
            Some(vec![BrokerId(3), BrokerId(2)])
        );
        assert_eq!(request.timeout_ms, 30_000);
    }

    #[test]
    fn list_request_round_trips() {
        let request = ListPartitionReassignmentsRequest::default().with_topics(Some(vec![
            ListPartitionReassignmentsTopics::default()
                .with_name(topic_name("t"))
                .with_partition_indexes(vec![0, 3]),
        ]));
        let mut payload = request_body(encode_request(&request, 0, 7, CLIENT_ID).unwrap());
        assert_eq!(
            ListPartitionReassignmentsRequest::decode(&mut payload, 0).unwrap(),
            request
        );
    }

    #[test]
    fn alter_response_decodes_and_reports_partition_errors() {
        let ok = AlterPartitionReassignmentsResponse::default().with_responses(vec![
            ReassignableTopicResponse::default()
                .with_name(topic_name("t"))
                .with_partitions(vec![
                    ReassignablePartitionResponse::default().with_partition_index(0)
                ]),
        ]);
        let decoded = answered::<AlterPartitionReassignmentsRequest>(&ok, 0);
        assert_eq!(decoded, ok);
        check_alter_response(&decoded).unwrap();

        let bad = AlterPartitionReassignmentsResponse::default().with_responses(vec![
            ReassignableTopicResponse::default()
                .with_name(topic_name("t"))
                .with_partitions(vec![ReassignablePartitionResponse::default()
                    .with_partition_index(3)
                    .with_error_code(39) // INVALID_REPLICA_ASSIGNMENT
                    .with_error_message(Some(StrBytes::from_static_str(
                        "broker 9 is not alive",
                    )))]),
        ]);
        let decoded = answered::<AlterPartitionReassignmentsRequest>(&bad, 1);
        let err = check_alter_response(&decoded).unwrap_err().to_string();
        assert!(
            err.contains("t/3")
                && err.contains("InvalidReplicaAssignment")
                && err.contains("broker 9"),
            "{err}"
        );
    }

    #[test]
    fn list_response_decodes_into_ongoing_partitions() {
        let response = ListPartitionReassignmentsResponse::default().with_topics(vec![
            OngoingTopicReassignment::default()
                .with_name(topic_name("t"))
                .with_partitions(vec![
                    OngoingPartitionReassignment::default()
                        .with_partition_index(1)
                        .with_replicas(vec![BrokerId(1), BrokerId(3)])
                        .with_adding_replicas(vec![BrokerId(3)]),
                    OngoingPartitionReassignment::default().with_partition_index(4),
                ]),
        ]);
        let decoded = answered::<ListPartitionReassignmentsRequest>(&response, 0);
        assert_eq!(
            ongoing(&decoded).unwrap(),
            BTreeSet::from([("t".to_string(), 1), ("t".to_string(), 4)])
        );
        let failed = ListPartitionReassignmentsResponse::default().with_error_code(41);
        assert!(ongoing(&failed)
            .unwrap_err()
            .to_string()
            .contains("NotController"));
    }

    #[test]
    fn throttle_names_sending_and_receiving_replicas() {
        // Partition 1 only changes its leader: it copies nothing and is not throttled.
        let moves = vec![mv("t", 0, &[1, 2], &[1, 3]), mv("t", 1, &[2, 1], &[1, 2])];
        let request = topic_throttle(&moves, true);
        assert_eq!(request.resources.len(), 1);
        let topic = &request.resources[0];
        assert_eq!(
            (topic.resource_type, topic.resource_name.as_str()),
            (RESOURCE_TOPIC, "t")
        );
        let value = |name: &str| {
            let config = topic
                .configs
                .iter()
                .find(|c| c.name.as_str() == name)
                .unwrap();
            assert_eq!(config.config_operation, OP_SET);
            config.value.clone().unwrap()
        };
        assert_eq!(value(REPLICAS_LEADER).as_str(), "0:1,0:2");
        assert_eq!(value(REPLICAS_FOLLOWER).as_str(), "0:3");
        assert_eq!(throttled_brokers(&moves), BTreeSet::from([1, 2, 3]));

        let rate = broker_throttle(3, Some(1_000_000));
        let broker = &rate.resources[0];
        assert_eq!(
            (broker.resource_type, broker.resource_name.as_str()),
            (RESOURCE_BROKER, "3")
        );
        let names: Vec<&str> = broker.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec![RATE_LEADER, RATE_FOLLOWER]);
        assert!(broker
            .configs
            .iter()
            .all(|c| c.config_operation == OP_SET && c.value.as_deref() == Some("1000000")));

        for undo in [topic_throttle(&moves, false), broker_throttle(3, None)] {
            assert!(undo
                .resources
                .iter()
                .flat_map(|r| &r.configs)
                .all(|c| c.config_operation == OP_DELETE && c.value.is_none()));
        }
        let mut payload = request_body(encode_request(&request, 1, 3, CLIENT_ID).unwrap());
        assert_eq!(
            IncrementalAlterConfigsRequest::decode(&mut payload, 1).unwrap(),
            request
        );
    }

    #[test]
    fn versions_are_negotiated() {
        let broker = BTreeMap::from([(45, (0, 7)), (46, (2, 3))]);
        assert_eq!(
            common_version::<AlterPartitionReassignmentsRequest>(&broker, 45),
            Some(1)
        );
        assert_eq!(
            common_version::<ListPartitionReassignmentsRequest>(&broker, 46),
            None
        );
        assert_eq!(
            common_version::<AlterPartitionReassignmentsRequest>(&BTreeMap::new(), 45),
            None
        );
    }
}

/// The client against a scripted broker on 127.0.0.1 that answers with encoded responses.
#[cfg(test)]
mod fake_broker {
    use std::sync::{Arc, Mutex};

    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::list_partition_reassignments_response::{
        OngoingPartitionReassignment, OngoingTopicReassignment,
    };
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::ApiVersionsResponse;
    use kafka_protocol::messages::ResponseHeader;
    use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable};
    use tokio::net::TcpListener;

    use crate::kafka::wire::encode_response;

    /// Serves one connection; `lists` ongoing-partition answers are given before "done".
    async fn serve(
        listener: TcpListener,
        port: u16,
        mut lists: usize,
        seen: Arc<Mutex<Vec<(i16, i16)>>>,
        configs: Arc<Mutex<Vec<String>>>,
    ) {
        let (mut socket, _) = listener.accept().await.unwrap();
        loop {
            let Some(mut payload) = read_frame(&mut socket).await.unwrap() else {
                return;
            };
            let header = decode_request_header_from_buffer(&mut payload).unwrap();
            let (key, version) = (header.request_api_key, header.request_api_version);
            seen.lock().unwrap().push((key, version));
            let api = ApiKey::try_from(key).unwrap();
            let rh = ResponseHeader::default().with_correlation_id(header.correlation_id);
            let bytes = match api {
                ApiKey::ApiVersions => {
                    let keys = [(3, 0, 12), (18, 0, 3), (44, 0, 1), (45, 0, 0), (46, 0, 0)].map(
                        |(k, min, max)| {
                            ApiVersion::default()
                                .with_api_key(k)
                                .with_min_version(min)
                                .with_max_version(max)
                        },
                    );
                    encode_response(
                        &rh,
                        &ApiVersionsResponse::default().with_api_keys(keys.to_vec()),
                        version,
                    )
                }
                ApiKey::Metadata => {
                    // Brokers 7, 8 and 9 all live at this one address.
                    let brokers = [7, 8, 9].map(|id| {
                        MetadataResponseBroker::default()
                            .with_node_id(BrokerId(id))
                            .with_host(StrBytes::from_static_str("127.0.0.1"))
                            .with_port(i32::from(port))
                    });
                    let body = MetadataResponse::default()
                        .with_brokers(brokers.to_vec())
                        .with_controller_id(BrokerId(7));
                    encode_response(&rh, &body, version)
                }
                ApiKey::IncrementalAlterConfigs => {
                    let request =
                        IncrementalAlterConfigsRequest::decode(&mut payload, version).unwrap();
                    for r in &request.resources {
                        let op = r.configs[0].config_operation;
                        configs
                            .lock()
                            .unwrap()
                            .push(format!("{}{op}", r.resource_name.as_str()));
                    }
                    encode_response(&rh, &IncrementalAlterConfigsResponse::default(), version)
                }
                ApiKey::AlterPartitionReassignments => {
                    let request =
                        AlterPartitionReassignmentsRequest::decode(&mut payload, version).unwrap();
                    assert_eq!(
                        request.topics[0].partitions[0].replicas,
                        Some(vec![BrokerId(7), BrokerId(8)])
                    );
                    encode_response(
                        &rh,
                        &AlterPartitionReassignmentsResponse::default(),
                        version,
                    )
                }
                ApiKey::ListPartitionReassignments => {
                    let mut body = ListPartitionReassignmentsResponse::default();
                    if lists > 0 {
                        lists -= 1;
                        body = body.with_topics(vec![OngoingTopicReassignment::default()
                            .with_name(topic_name("t"))
                            .with_partitions(vec![
                                OngoingPartitionReassignment::default().with_partition_index(0)
                            ])]);
                    }
                    encode_response(&rh, &body, version)
                }
                other => panic!("unexpected request {other:?}"),
            };
            write_frame(&mut socket, &bytes.unwrap()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn reassigns_throttles_and_polls_over_the_wire() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let configs = Arc::new(Mutex::new(Vec::new()));
        let server = tokio::spawn(serve(listener, port, 1, seen.clone(), configs.clone()));

        let moves = vec![Move {
            topic: "t".into(),
            partition: 0,
            from: vec![7, 9],
            to: vec![7, 8],
            added: vec![8],
            removed: vec![9],
        }];
        // The first address refuses connections; the list goes on to the next.
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_port = dead.local_addr().unwrap().port();
        drop(dead);
        let mut reassigner =
            Reassigner::connect(&format!("127.0.0.1:{dead_port}, 127.0.0.1:{port}"))
                .await
                .unwrap();
        reassigner.throttle(&moves, 1024).await.unwrap();
        reassigner.start(&moves).await.unwrap();
        let ongoing = reassigner.in_progress(&moves).await.unwrap();
        assert_eq!(ongoing, BTreeSet::from([("t".to_string(), 0)]));
        assert!(reassigner.in_progress(&moves).await.unwrap().is_empty());
        reassigner.unthrottle(&moves).await.unwrap();
        drop(reassigner);
        server.await.unwrap();

        // ApiVersions at v0, then every request at the highest version both sides speak.
        let keys: Vec<(i16, i16)> = seen.lock().unwrap().clone();
        let throttle = [(44, 1); 4]; // the topic, then brokers 7, 8 and 9
        let expected: Vec<(i16, i16)> = [(18, 0), (3, 12)]
            .into_iter()
            .chain(throttle)
            .chain([(45, 0), (46, 0), (46, 0)])
            .chain(throttle)
            .collect();
        assert_eq!(keys, expected);
        // Resource name and operation (0 set, 1 delete) of every config change, in order.
        let changes = configs.lock().unwrap().clone();
        assert_eq!(
            changes,
            vec!["t0", "70", "80", "90", "t1", "71", "81", "91"]
        );
    }

    #[tokio::test]
    async fn a_broker_without_the_api_is_refused_before_any_change() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // A broker that only knows ApiVersions and Metadata.
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut payload = read_frame(&mut socket).await.unwrap().unwrap();
            let header = decode_request_header_from_buffer(&mut payload).unwrap();
            let keys = [(3, 0, 12), (18, 0, 3)].map(|(k, min, max)| {
                ApiVersion::default()
                    .with_api_key(k)
                    .with_min_version(min)
                    .with_max_version(max)
            });
            let rh = ResponseHeader::default().with_correlation_id(header.correlation_id);
            let body = ApiVersionsResponse::default().with_api_keys(keys.to_vec());
            let answer = encode_response(&rh, &body, 0).unwrap();
            write_frame(&mut socket, &answer).await.unwrap();
        });
        let err = Reassigner::connect(&format!("127.0.0.1:{port}"))
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string()
                .contains("does not support partition reassignment (API key 45)"),
            "{err}"
        );
        server.await.unwrap();
    }
}
