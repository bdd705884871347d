//! The embedded manifests and their rendering. Pure: no I/O beyond the embedded files.
//!
//! `manifests/NN-<component>.yaml` are minijinja templates, one file per [`Component`], rendered
//! in file order. The component's name (the file name without its number) becomes the
//! `app.kubernetes.io/component` label; the renderer adds the Kapture labels and the namespace
//! to every object, so templates cannot forget them. A Job's pod template is immutable, so the
//! renderer also ends every Job's name with a hash of its spec: new values give a new Job, the
//! same values the same object.
use std::time::Duration;

use anyhow::{bail, Context, Result};
use include_dir::{include_dir, Dir};
use kube::core::DynamicObject;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::component::Component;
use crate::contract::OWN_MONGO_URL;
use crate::images::{ImageName, ImageRef, Images, Overrides};
use crate::kafka::bootstrap::Bootstrap;
use crate::password::Passwords;

static MANIFESTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/manifests");

pub const FIELD_MANAGER: &str = "kubectl-kapture";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const PART_OF: &str = "kapture";
/// Selects everything Kapture manages in a namespace.
pub const SELECTOR: &str = "app.kubernetes.io/part-of=kapture";
/// Whether an object is Kapture's: labelled `app.kubernetes.io/part-of=kapture`.
pub fn is_kapture_labelled(metadata: &kube::core::ObjectMeta) -> bool {
    metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_PART_OF))
        .is_some_and(|v| v == PART_OF)
}

/// The volume that holds a stateful component's data: an emptyDir with `--storage ephemeral`,
/// a claim of the same name with `--storage persistent`.
pub const DATA_VOLUME: &str = "data";
pub const DEFAULT_WORKER_IMAGE: &str = concat!("kapture-worker:", env!("CARGO_PKG_VERSION"));
/// Where Kapture is deployed unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "kapture";

/// Kafka in KRaft mode: the official image, configured through its KAFKA_* variables.
pub const KAFKA_IMAGE: &str = "apache/kafka:4.1.1";
/// Kafka in zookeeper mode: the last line that still supports ZooKeeper.
pub const KAFKA_ZOOKEEPER_MODE_IMAGE: &str = "apache/kafka:3.9.1";
pub const ZOOKEEPER_IMAGE: &str = "zookeeper:3.9.4";
pub const REDIS_IMAGE: &str = "redis:7.4";
pub const POSTGRES_IMAGE: &str = "postgres:16";
/// MongoDB: the official image (its entrypoint creates the root user from the Secret).
pub const MONGO_IMAGE: &str = "mongo:8.0";
/// Where the workload finds Kapture's own Kafka: the brokers' client Service.
pub const OWN_KAFKA_BOOTSTRAP: &str = "kapture-kafka:9092";

/// A broker's node.id (broker.id) is this plus its pod ordinal; a controller's is its ordinal.
pub const BROKER_ID_OFFSET: u32 = 100;

/// Topic retention (`deploy --retention`). The default keeps a 24-hour run at the default load
/// well inside the default 10Gi broker volume: see docs/manifests.md, "Topic retention".
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(6 * 3600);
/// Below this, a consumer that restarts slowly (a sink during chaos) may find its records gone.
pub const MIN_RETENTION: Duration = Duration::from_secs(10 * 60);
/// Above this, even a light load outgrows the default volume.
pub const MAX_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// A segment is deleted only once it is closed and its newest record is older than the
/// retention: segments roll after `retention / SEGMENTS_PER_RETENTION`, so a broker holds at
/// most that much more than the retention (and the per-state topics' small partitions, which
/// would otherwise roll only after Kafka's default 7 days, are trimmed at all).
pub const SEGMENTS_PER_RETENTION: u32 = 6;

/// Checks a topic retention against [`MIN_RETENTION`] and [`MAX_RETENTION`].
pub fn check_retention(retention: Duration) -> Result<(), String> {
    if retention < MIN_RETENTION {
        return Err(format!(
            "retention {} is shorter than {}: consumers that fall behind would lose records",
            short_duration(retention),
            short_duration(MIN_RETENTION)
        ));
    }
    if retention > MAX_RETENTION {
        return Err(format!(
            "retention {} is longer than {}: Kapture's volumes are not sized for it (set it on the topics with kafka-configs.sh)",
            short_duration(retention),
            short_duration(MAX_RETENTION)
        ));
    }
    Ok(())
}

/// A duration in its largest whole unit, as it is typed: `30d`, `6h`, `90m`, `45s`.
fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    [(86_400, "d"), (3_600, "h"), (60, "m")]
        .into_iter()
        .find(|(unit, _)| secs > 0 && secs % unit == 0)
        .map_or_else(
            || format!("{secs}s"),
            |(unit, name)| format!("{}{name}", secs / unit),
        )
}

/// A parameter with a fixed set of values, each with the name templates (and the command
/// line) know it by. Serialised as that name.
macro_rules! named_values {
    ($(#[$doc:meta])* $type:ident { $($value:ident => $name:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(into = "&'static str")]
        pub enum $type {
            $($value,)*
        }

        impl $type {
            pub const ALL: &'static [$type] = &[$($type::$value,)*];

            pub const fn name(self) -> &'static str {
                match self {
                    $($type::$value => $name,)*
                }
            }
        }

        impl From<$type> for &'static str {
            fn from(value: $type) -> &'static str {
                value.name()
            }
        }
    };
}

named_values! {
    /// How Kafka keeps its metadata: KRaft (Kafka 4) or ZooKeeper (Kafka 3.x).
    KafkaMode { Kraft => "kraft", Zookeeper => "zookeeper", }
}

named_values! {
    /// emptyDir, or PersistentVolumeClaims.
    Storage { Ephemeral => "ephemeral", Persistent => "persistent", }
}

named_values! {
    /// The image pull policy of Kapture's own image.
    PullPolicy { Always => "Always", IfNotPresent => "IfNotPresent", Never => "Never", }
}

named_values! {
    /// Resource requests and limits, from a laptop cluster to a real one.
    ResourcePreset { Small => "small", Medium => "medium", Large => "large", }
}

/// Everything a deployment is parameterised by.
#[derive(Debug, Clone, Serialize)]
pub struct RenderParams {
    pub namespace: String,
    pub components: Vec<Component>,
    pub kafka_mode: KafkaMode,
    pub brokers: u16,
    pub controllers: u16,
    pub partitions: u32,
    pub replication_factor: u16,
    pub storage: Storage,
    pub storage_class: Option<String>,
    pub storage_size: String,
    pub worker_image: String,
    /// `--registry` and `--set-image`.
    #[serde(skip)]
    pub images: Overrides,
    /// A Kafka Kapture uses but does not deploy (`--kafka-bootstrap`).
    pub kafka_bootstrap: Option<Bootstrap>,
    /// A MongoDB the Mongo sink writes to instead of Kapture's own (`--mongo-url`).
    pub mongo_url: Option<String>,
    /// The Secret (keys `username`, `password`) with the credentials for `mongo_url`
    /// (`--mongo-secret`); none: the sink connects without credentials.
    pub mongo_secret: Option<String>,
    pub pull_policy: PullPolicy,
    pub resources: ResourcePreset,
    pub load_generators: u16,
    pub rate: u32,
    /// How long Kafka keeps the records of Kapture's topics (`retention.ms`).
    #[serde(skip)]
    pub retention: Duration,
    /// Passwords put into the stores' Secrets. Never logged.
    #[serde(skip)]
    pub passwords: Passwords,
}

/// The default deployment; `kubectl kapture deploy`'s flags default to these values.
impl Default for RenderParams {
    fn default() -> Self {
        RenderParams {
            namespace: DEFAULT_NAMESPACE.to_string(),
            components: Component::default_set(),
            kafka_mode: KafkaMode::Kraft,
            brokers: 3,
            controllers: 3,
            partitions: 6,
            replication_factor: 3,
            storage: Storage::Ephemeral,
            storage_class: None,
            storage_size: "10Gi".to_string(),
            worker_image: DEFAULT_WORKER_IMAGE.to_string(),
            images: Overrides::default(),
            kafka_bootstrap: None,
            mongo_url: None,
            mongo_secret: None,
            pull_policy: PullPolicy::IfNotPresent,
            resources: ResourcePreset::Small,
            load_generators: 1,
            rate: 100,
            retention: DEFAULT_RETENTION,
            passwords: Passwords::default(),
        }
    }
}

/// One object to apply, with the component it belongs to.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub component: Component,
    pub object: DynamicObject,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.object
            .types
            .as_ref()
            .map(|t| t.kind.as_str())
            .unwrap_or("")
    }
    pub fn api_version(&self) -> &str {
        self.object
            .types
            .as_ref()
            .map(|t| t.api_version.as_str())
            .unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or("")
    }
}

/// Every template in apply order, as (file name without number and extension, text).
pub fn templates() -> Vec<(&'static str, &'static str)> {
    let mut files: Vec<_> = MANIFESTS
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort_by_key(|f| f.path().to_path_buf());
    files
        .into_iter()
        .filter_map(|f| {
            let stem = f.path().file_stem()?.to_str()?;
            let name = stem.split_once('-').map_or(stem, |(_, rest)| rest);
            Some((name, f.contents_utf8()?))
        })
        .collect()
}

/// Checks flag combinations that clap cannot see.
pub fn validate(params: &RenderParams) -> Result<(), String> {
    let own_brokers = params.components.contains(&Component::KafkaBroker);
    if own_brokers && params.kafka_bootstrap.is_some() {
        return Err(
            "--kafka-bootstrap replaces Kapture's Kafka: leave kafka out of --components"
                .to_string(),
        );
    }
    if params.mongo_url.is_some() {
        if params.components.contains(&Component::Mongo) {
            return Err(
                "--mongo-url replaces Kapture's MongoDB: leave mongo out of --components".into(),
            );
        }
        if !params.components.contains(&Component::SinkMongo) {
            return Err("--mongo-url is where sink-mongo writes: add it, e.g. --components default,sink-mongo".into());
        }
    } else if params.mongo_secret.is_some() {
        return Err("--mongo-secret holds the credentials for --mongo-url; Kapture's own MongoDB has Secret kapture-mongo".into());
    }
    if own_brokers && params.replication_factor > params.brokers {
        return Err(format!(
            "--replication-factor {} is larger than --brokers {}: every replica needs its own broker",
            params.replication_factor, params.brokers
        ));
    }
    if params.storage == Storage::Ephemeral && params.storage_class.is_some() {
        return Err("--storage-class only applies with --storage persistent".to_string());
    }
    check_retention(params.retention).map_err(|e| format!("--retention: {e}"))?;
    Ok(())
}

/// Renders the selected components into labelled objects, in apply order.
pub fn render(params: &RenderParams) -> Result<Vec<Manifest>> {
    validate(params).map_err(crate::error::KaptureError::InvalidInput)?;
    let context = template_context(params);
    let env = minijinja_env();
    let mut out = Vec::new();
    for (name, text) in templates() {
        let component = Component::from_name(name)
            .with_context(|| format!("template {name} names no component"))?;
        if !params.components.contains(&component) {
            continue;
        }
        let rendered = env
            .render_str(text, &context)
            .with_context(|| format!("rendering manifest {name}"))?;
        for doc in serde_yaml::Deserializer::from_str(&rendered) {
            let value =
                Value::deserialize(doc).with_context(|| format!("parsing manifest {name}"))?;
            // A component that does not apply (e.g. zookeeper in KRaft mode) renders to nothing.
            if value.is_null() {
                continue;
            }
            let mut object = labelled(value, component, &params.namespace)
                .with_context(|| format!("in manifest {name}"))?;
            if object.types.as_ref().is_some_and(|t| t.kind == "Job") {
                name_after_spec(&mut object).with_context(|| format!("in manifest {name}"))?;
            }
            out.push(Manifest { component, object });
        }
    }
    Ok(out)
}

fn minijinja_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // `{% if %}` lines vanish instead of leaving blank, mis-indented lines in the YAML.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // A JSON string is a valid double-quoted YAML scalar, whatever characters it holds.
    env.add_filter("quote", |value: String| {
        serde_json::to_string(&value).expect("a string serialises")
    });
    env.add_filter("b64", |value: String| base64_standard(value.as_bytes()));
    env
}

/// Ends a Job's name with a hash of its spec: a Job's pod template cannot be changed, so the
/// name must change with every value the spec holds (image, arguments, environment, ...), and
/// stay the same while none does, so that a re-deploy is a no-op.
fn name_after_spec(job: &mut DynamicObject) -> Result<()> {
    let spec = serde_json::to_string(&job.data["spec"]).expect("a spec serialises");
    let name = format!(
        "{}-{}",
        job.metadata.name.as_deref().unwrap_or_default(),
        short_hash(&spec)
    );
    // The Job controller labels the pods with job-name=<name>: a label value has at most 63.
    if name.len() > 63 {
        bail!("Job name {name} is longer than 63 characters");
    }
    job.metadata.name = Some(name);
    Ok(())
}

/// Eight hex digits that change with `text` (FNV-1a): lets an immutable object's name follow
/// what it holds.
fn short_hash(text: &str) -> String {
    let hash = text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")
}

/// Values the templates see: the parameters plus what is derived from them.
fn template_context(params: &RenderParams) -> Value {
    let mut ctx = serde_json::to_value(params).expect("parameters serialise");
    ctx["passwords"] = json!(params.passwords);
    ctx["kafka"] = serde_json::to_value(KafkaSettings::derive(params)).expect("settings serialise");
    ctx["res"] = resources_context(params.resources);
    ctx["images"] = serde_json::to_value(images(params)).expect("images serialise");
    ctx["mongo"] = match &params.mongo_url {
        Some(url) => json!({"url": url, "secret": params.mongo_secret}),
        None => json!({"url": OWN_MONGO_URL, "secret": Component::Mongo.object_name()}),
    };
    ctx
}

/// The image of every name: the defaults (the worker's from `--image`), moved by
/// `--registry`, replaced by `--set-image`.
pub fn images(params: &RenderParams) -> Images {
    let kafka = match params.kafka_mode {
        KafkaMode::Kraft => KAFKA_IMAGE,
        KafkaMode::Zookeeper => KAFKA_ZOOKEEPER_MODE_IMAGE,
    };
    let defaults = [
        (ImageName::Kafka, kafka),
        (ImageName::Zookeeper, ZOOKEEPER_IMAGE),
        (ImageName::Redis, REDIS_IMAGE),
        (ImageName::Postgres, POSTGRES_IMAGE),
        (ImageName::Mongo, MONGO_IMAGE),
        (ImageName::Worker, params.worker_image.as_str()),
    ]
    .into_iter()
    .map(|(name, image)| {
        let image: ImageRef = image
            .parse()
            .expect("default images and --image are checked");
        (name, image)
    })
    .collect();
    Images::resolve(&defaults, &params.images)
}

/// Kafka settings derived from the parameters, as the templates use them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct KafkaSettings {
    /// Same for every deploy into a namespace, so persistent volumes stay usable.
    cluster_id: String,
    broker_id_offset: u32,
    /// `controller.quorum.voters`: `<ordinal>@<pod>.<headless>.<ns>.svc.cluster.local:9093`.
    quorum_voters: String,
    /// `ZOO_SERVERS` of the zookeeper image: `server.<ordinal+1>=<pod dns>:2888:3888;2181`.
    zookeeper_servers: String,
    zookeeper_connect: String,
    /// What the workload and the topic Job connect to: Kapture's brokers, or `--kafka-bootstrap`.
    bootstrap: String,
    /// Replication of `__consumer_offsets` and `__transaction_state`.
    internal_rf: u16,
    internal_min_isr: u16,
    /// Broker default `min.insync.replicas`; also covers the internal topics, so it never
    /// exceeds what they can satisfy.
    broker_min_insync: u16,
    /// `min.insync.replicas` of the `transactions` topic: one replica may be down for acks=all.
    topic_min_insync: u16,
    /// `KEY=VALUE` topic configs the topic Job passes to `create-topics --config`.
    topic_configs: Vec<String>,
}

impl KafkaSettings {
    fn derive(params: &RenderParams) -> Self {
        let ns = &params.namespace;
        let controllers = Component::KafkaController.object_name();
        let zookeeper = Component::Zookeeper.object_name();
        let pod_dns = |set: &str, ordinal: u16| {
            format!("{set}-{ordinal}.{set}-headless.{ns}.svc.cluster.local")
        };
        let quorum_voters = (0..params.controllers)
            .map(|i| format!("{i}@{}:9093", pod_dns(&controllers, i)))
            .collect::<Vec<_>>()
            .join(",");
        let zookeeper_servers = (0..params.controllers)
            .map(|i| format!("server.{}={}:2888:3888;2181", i + 1, pod_dns(&zookeeper, i)))
            .collect::<Vec<_>>()
            .join(" ");
        let internal_rf = params.brokers.clamp(1, 3);
        let min_isr = |rf: u16| rf.saturating_sub(1).max(1);
        let topic_min_insync = min_isr(params.replication_factor);
        let retention_ms = params.retention.as_millis();
        let topic_configs = vec![
            format!("min.insync.replicas={topic_min_insync}"),
            format!("retention.ms={retention_ms}"),
            format!(
                "segment.ms={}",
                retention_ms / u128::from(SEGMENTS_PER_RETENTION)
            ),
        ];
        Self {
            cluster_id: cluster_id(ns),
            broker_id_offset: BROKER_ID_OFFSET,
            quorum_voters,
            zookeeper_servers,
            zookeeper_connect: "kapture-zookeeper:2181".to_string(),
            bootstrap: params
                .kafka_bootstrap
                .as_ref()
                .map_or_else(|| OWN_KAFKA_BOOTSTRAP.to_string(), Bootstrap::to_string),
            internal_rf,
            internal_min_isr: min_isr(internal_rf),
            broker_min_insync: topic_min_insync.min(min_isr(internal_rf)),
            topic_min_insync,
            topic_configs,
        }
    }
}

/// A deterministic KRaft cluster id for a namespace: 16 bytes in unpadded base64url, the form
/// `kafka-storage.sh random-uuid` prints. Two FNV-1a 64 hashes with different seeds fill the
/// bytes; the top bit is cleared so the id never starts with `-` (which tools take for a flag).
fn cluster_id(namespace: &str) -> String {
    fn fnv1a(seed: u64, data: &[u8]) -> u64 {
        data.iter().fold(seed, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
    let input = format!("kapture/{namespace}");
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&fnv1a(0xcbf2_9ce4_8422_2325, input.as_bytes()).to_be_bytes());
    bytes[8..].copy_from_slice(&fnv1a(0x6c62_272e_07bb_0142, input.as_bytes()).to_be_bytes());
    bytes[0] &= 0x7f;
    base64url(&bytes)
}

/// Base64 with the URL-safe alphabet and no padding (Kafka's Uuid form).
fn base64url(bytes: &[u8]) -> String {
    base64(
        bytes,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        false,
    )
}

/// Base64 with the standard alphabet and padding (a Secret's `data`).
fn base64_standard(bytes: &[u8]) -> String {
    base64(
        bytes,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true,
    )
}

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i) & 0x3f) as usize]));
        }
        if pad {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

/// Requests and limits of one container, plus the JVM heap where there is a JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Resources {
    cpu_request: &'static str,
    memory_request: &'static str,
    cpu_limit: &'static str,
    memory_limit: &'static str,
    /// The memory the process is told to stay within, in MiB: the JVM's -Xms/-Xmx (about half
    /// the limit: the rest is page cache and off-heap), MongoDB's WiredTiger cache.
    heap_mb: Option<u32>,
}

/// How a component is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizing {
    Broker,
    /// KRaft controllers and ZooKeeper.
    Quorum,
    Redis,
    Postgres,
    Mongo,
    Worker,
    /// The topic Job: the same for every preset, because a Job's template is immutable.
    TopicsJob,
}

fn sizing(component: Component) -> Sizing {
    match component {
        Component::Zookeeper | Component::KafkaController => Sizing::Quorum,
        Component::KafkaBroker => Sizing::Broker,
        Component::KafkaTopics => Sizing::TopicsJob,
        Component::Redis => Sizing::Redis,
        Component::Postgres => Sizing::Postgres,
        Component::Mongo => Sizing::Mongo,
        Component::OrderService
        | Component::Router
        | Component::SinkPostgres
        | Component::SinkRedis
        | Component::SinkMongo
        | Component::Loadgen => Sizing::Worker,
    }
}

/// A component's key in the templates' `res` map: its name with `_` (`res.kafka_broker`).
fn resources_key(component: Component) -> String {
    component.name().replace('-', "_")
}

fn resources(sizing: Sizing, preset: ResourcePreset) -> Resources {
    use ResourcePreset::{Large, Medium, Small};
    let (cpu_request, memory_request, cpu_limit, memory_limit, heap_mb) = match (sizing, preset) {
        (Sizing::Broker, Small) => ("250m", "1Gi", "1", "1Gi", Some(512)),
        (Sizing::Broker, Medium) => ("1", "4Gi", "2", "4Gi", Some(2048)),
        (Sizing::Broker, Large) => ("2", "8Gi", "4", "8Gi", Some(4096)),
        (Sizing::Quorum, Small) => ("100m", "512Mi", "500m", "512Mi", Some(256)),
        (Sizing::Quorum, Medium) => ("250m", "1Gi", "1", "1Gi", Some(512)),
        (Sizing::Quorum, Large) => ("500m", "2Gi", "2", "2Gi", Some(1024)),
        (Sizing::Redis, Small) => ("50m", "128Mi", "500m", "256Mi", None),
        (Sizing::Redis, Medium) => ("250m", "512Mi", "1", "1Gi", None),
        (Sizing::Redis, Large) => ("500m", "2Gi", "2", "4Gi", None),
        (Sizing::Postgres, Small) => ("100m", "256Mi", "1", "512Mi", None),
        (Sizing::Postgres, Medium) => ("500m", "1Gi", "2", "2Gi", None),
        (Sizing::Postgres, Large) => ("1", "4Gi", "4", "8Gi", None),
        // WiredTiger's cache gets a quarter of the limit: the rest holds connections, the
        // probes' mongosh and the file system cache.
        (Sizing::Mongo, Small) => ("100m", "512Mi", "1", "1Gi", Some(256)),
        (Sizing::Mongo, Medium) => ("500m", "1Gi", "2", "2Gi", Some(512)),
        (Sizing::Mongo, Large) => ("1", "4Gi", "4", "8Gi", Some(2048)),
        (Sizing::Worker, Small) => ("50m", "64Mi", "500m", "256Mi", None),
        (Sizing::Worker, Medium) => ("200m", "128Mi", "1", "512Mi", None),
        (Sizing::Worker, Large) => ("500m", "256Mi", "2", "1Gi", None),
        (Sizing::TopicsJob, _) => ("50m", "64Mi", "500m", "128Mi", None),
    };
    Resources {
        cpu_request,
        memory_request,
        cpu_limit,
        memory_limit,
        heap_mb,
    }
}

/// `res.<component>.{cpu_request,memory_request,cpu_limit,memory_limit,heap_mb}` for a preset.
fn resources_context(preset: ResourcePreset) -> Value {
    Component::ALL
        .into_iter()
        .map(|component| {
            let value = serde_json::to_value(resources(sizing(component), preset))
                .expect("resources serialise");
            (resources_key(component), value)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn labelled(mut value: Value, component: Component, namespace: &str) -> Result<DynamicObject> {
    if value.get("kind").and_then(Value::as_str).is_none() {
        bail!("object without kind");
    }
    let labels = json!({
        LABEL_PART_OF: PART_OF,
        LABEL_MANAGED_BY: FIELD_MANAGER,
        LABEL_COMPONENT: component.name(),
    });
    merge_labels(&mut value["metadata"], &labels);
    value["metadata"]["namespace"] = json!(namespace);
    if let Some(template) = value.pointer_mut("/spec/template") {
        merge_labels(&mut template["metadata"], &labels);
    }
    Ok(serde_json::from_value(value)?)
}

fn merge_labels(metadata: &mut Value, labels: &Value) {
    if !metadata.is_object() {
        *metadata = json!({});
    }
    let target = metadata["labels"].as_object_mut();
    match target {
        Some(map) => {
            for (k, v) in labels.as_object().expect("labels are a map") {
                map.insert(k.clone(), v.clone());
            }
        }
        None => metadata["labels"] = labels.clone(),
    }
}

/// Every (apiVersion, kind) any deployment may create, in apply order: the default deployment
/// in each Kafka mode (the other parameters change how many objects there are, not their kinds).
pub fn every_kind() -> Result<Vec<(String, String)>> {
    let mut kinds = Vec::new();
    for kafka_mode in [KafkaMode::Kraft, KafkaMode::Zookeeper] {
        let params = RenderParams {
            kafka_mode,
            ..RenderParams::default()
        };
        for kind in kinds_in_apply_order(&render(&params)?) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    Ok(kinds)
}

/// Distinct (apiVersion, kind) pairs in first-appearance order: the order kinds are applied in.
pub fn kinds_in_apply_order(manifests: &[Manifest]) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> = Vec::new();
    for m in manifests {
        let key = (m.api_version().to_string(), m.kind().to_string());
        if !kinds.contains(&key) {
            kinds.push(key);
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{Secret, Service};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::contract::env;

    const PASSWORD: &str = "Pa55-w0rd\"quoted\": #not-a-comment";
    const MONGO_PASSWORD: &str = "M0ngo: {not-a-map}";

    fn base() -> RenderParams {
        RenderParams {
            namespace: "kapture-test".into(),
            worker_image: "registry.example/kapture-worker:1.2.3".into(),
            pull_policy: PullPolicy::Always,
            load_generators: 2,
            rate: 250,
            components: Component::ALL.to_vec(),
            passwords: Passwords {
                postgres: PASSWORD.into(),
                mongo: MONGO_PASSWORD.into(),
            },
            ..RenderParams::default()
        }
    }

    /// Modes x quorum sizes x storage variants x presets x broker counts.
    fn matrix() -> Vec<RenderParams> {
        let mut out = Vec::new();
        for mode in [KafkaMode::Kraft, KafkaMode::Zookeeper] {
            for controllers in [1, 3] {
                for (storage, class) in [
                    (Storage::Ephemeral, None),
                    (Storage::Persistent, None),
                    (Storage::Persistent, Some("fast-ssd".to_string())),
                ] {
                    for preset in ResourcePreset::ALL {
                        for (brokers, rf) in [(1, 1), (3, 3), (5, 2)] {
                            out.push(RenderParams {
                                kafka_mode: mode,
                                controllers,
                                storage,
                                storage_class: class.clone(),
                                resources: *preset,
                                brokers,
                                replication_factor: rf,
                                ..base()
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// Every choice `--components` can make: Kafka's parts go together, the rest one by one.
    fn all_subsets() -> Vec<Vec<Component>> {
        let kafka: Vec<Component> = Component::ALL
            .into_iter()
            .filter(|c| c.is_kafka())
            .collect();
        let groups: Vec<Vec<Component>> = std::iter::once(kafka)
            .chain(
                Component::ALL
                    .into_iter()
                    .filter(|c| !c.is_kafka())
                    .map(|c| vec![c]),
            )
            .collect();
        (0..1u32 << groups.len())
            .map(|mask| {
                groups
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .flat_map(|(_, g)| g.iter().copied())
                    .collect()
            })
            .collect()
    }

    /// The default objects in KRaft and in ZooKeeper mode.
    fn each_mode() -> [(KafkaMode, Vec<Manifest>); 2] {
        [KafkaMode::Kraft, KafkaMode::Zookeeper].map(|mode| {
            let params = RenderParams {
                kafka_mode: mode,
                ..base()
            };
            (mode, render(&params).expect("renders"))
        })
    }

    fn json(m: &Manifest) -> Value {
        serde_json::to_value(&m.object).expect("object serialises")
    }

    fn find<'a>(ms: &'a [Manifest], kind: &str, name: &str) -> &'a Manifest {
        ms.iter()
            .find(|m| m.kind() == kind && m.name() == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    fn workloads(ms: &[Manifest]) -> impl Iterator<Item = &Manifest> {
        ms.iter()
            .filter(|m| matches!(m.kind(), "StatefulSet" | "Deployment" | "Job"))
    }

    fn containers(v: &Value) -> Vec<&Value> {
        let spec = &v["spec"]["template"]["spec"];
        ["initContainers", "containers"]
            .iter()
            .filter_map(|k| spec[*k].as_array())
            .flatten()
            .collect()
    }

    fn labels_of(v: &Value) -> BTreeMap<String, String> {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    /// Parses a Kubernetes quantity into millicores or bytes, for the units the presets use.
    fn quantity(q: &str) -> u64 {
        let units = [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("m", 1)];
        for (suffix, factor) in units {
            if let Some(n) = q.strip_suffix(suffix) {
                return n.parse::<u64>().expect("number") * factor;
            }
        }
        q.parse::<u64>().expect("number") * 1000
    }

    /// Every object carries the labels and namespace; pod templates carry the labels; every
    /// container is locked down and sized.
    fn check_object(m: &Manifest, params: &RenderParams) {
        let v = json(m);
        let what = format!("{} {}", m.kind(), m.name());
        assert!(!m.api_version().is_empty(), "{what}: apiVersion");
        assert!(m.name().starts_with("kapture-"), "{what}: name prefix");
        assert_eq!(
            m.object.metadata.namespace.as_deref(),
            Some(params.namespace.as_str()),
            "{what}"
        );
        let expected = [
            (LABEL_PART_OF, PART_OF),
            (LABEL_MANAGED_BY, FIELD_MANAGER),
            (LABEL_COMPONENT, m.component.name()),
        ];
        let labels = m.object.metadata.labels.clone().unwrap_or_default();
        for (k, val) in expected {
            assert_eq!(
                labels.get(k).map(String::as_str),
                Some(val),
                "{what}: label {k}"
            );
        }
        if v.pointer("/spec/template").is_none() {
            return;
        }
        let pod_labels = labels_of(&v["spec"]["template"]["metadata"]["labels"]);
        for (k, val) in expected {
            assert_eq!(
                pod_labels.get(k).map(String::as_str),
                Some(val),
                "{what}: pod label {k}"
            );
        }
        if let Some(selector) = v.pointer("/spec/selector/matchLabels") {
            let selector = labels_of(selector);
            assert!(!selector.is_empty(), "{what}: empty selector");
            for (k, val) in &selector {
                assert_eq!(
                    pod_labels.get(k),
                    Some(val),
                    "{what}: selector {k} does not match the template"
                );
            }
        }
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], json!(false), "{what}");
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"],
            json!(true),
            "{what}"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            json!("RuntimeDefault"),
            "{what}"
        );
        let containers = containers(&v);
        assert!(!containers.is_empty(), "{what}: no containers");
        for c in containers {
            let sc = &c["securityContext"];
            let name = format!("{what} container {}", c["name"]);
            assert_eq!(sc["runAsNonRoot"], json!(true), "{name}");
            assert!(
                sc["runAsUser"].as_u64().is_some_and(|uid| uid > 0),
                "{name}: numeric non-root uid"
            );
            assert_eq!(sc["readOnlyRootFilesystem"], json!(true), "{name}");
            assert_eq!(sc["allowPrivilegeEscalation"], json!(false), "{name}");
            assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{name}");
            assert!(
                sc["capabilities"]["add"].is_null(),
                "{name}: adds capabilities"
            );
            assert_eq!(
                sc["seccompProfile"]["type"],
                json!("RuntimeDefault"),
                "{name}"
            );
            for key in ["cpu", "memory"] {
                let request = c["resources"]["requests"][key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: request {key}"));
                let limit = c["resources"]["limits"][key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: limit {key}"));
                assert!(
                    quantity(request) <= quantity(limit),
                    "{name}: {key} request above limit"
                );
            }
            let mounts: Vec<&str> = c["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["mountPath"].as_str())
                .collect();
            assert!(mounts.contains(&"/tmp"), "{name}: no writable /tmp");
        }
    }

    /// Deserialises into the typed API object and back: a misspelt field or a wrong type
    /// (say, a number as an env value) makes the two differ.
    fn typed_roundtrip<T: Serialize + DeserializeOwned>(m: &Manifest) {
        let original = json(m);
        let typed: T = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{} {}: {e}", m.kind(), m.name()));
        let mut back = serde_json::to_value(&typed).expect("typed object serialises");
        // k8s-openapi writes the type of an embedded PersistentVolumeClaim; the API ignores it.
        for claim in back
            .pointer_mut("/spec/volumeClaimTemplates")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let claim = claim.as_object_mut().expect("a claim is an object");
            assert_eq!(claim.remove("kind"), Some(json!("PersistentVolumeClaim")));
            assert_eq!(claim.remove("apiVersion"), Some(json!("v1")));
        }
        assert_eq!(
            back,
            original,
            "{} {} has fields its kind does not know",
            m.kind(),
            m.name()
        );
    }

    #[test]
    fn every_template_renders_for_the_parameter_matrix() {
        let mut rendered = 0;
        for params in matrix() {
            let ms = render(&params).unwrap_or_else(|e| panic!("{params:?}: {e:#}"));
            assert!(!ms.is_empty());
            for m in &ms {
                check_object(m, &params);
            }
            rendered += ms.len();
        }
        assert!(rendered > 1000, "rendered only {rendered} objects");
    }

    #[test]
    fn every_object_is_a_valid_object_of_its_kind() {
        for params in matrix() {
            for m in render(&params).expect("renders") {
                match (m.api_version(), m.kind()) {
                    ("v1", "Service") => typed_roundtrip::<Service>(&m),
                    ("v1", "Secret") => typed_roundtrip::<Secret>(&m),
                    ("apps/v1", "StatefulSet") => typed_roundtrip::<StatefulSet>(&m),
                    ("apps/v1", "Deployment") => typed_roundtrip::<Deployment>(&m),
                    ("batch/v1", "Job") => typed_roundtrip::<Job>(&m),
                    ("policy/v1", "PodDisruptionBudget") => {
                        typed_roundtrip::<PodDisruptionBudget>(&m)
                    }
                    (api, kind) => panic!("unexpected {api} {kind} in {}", m.component),
                }
            }
        }
    }

    #[test]
    fn every_component_subset_renders_exactly_its_components() {
        for mode in [KafkaMode::Kraft, KafkaMode::Zookeeper] {
            for components in all_subsets() {
                let params = RenderParams {
                    components: components.clone(),
                    kafka_mode: mode,
                    ..base()
                };
                let ms = render(&params).unwrap_or_else(|e| panic!("{components:?}: {e:#}"));
                let got: BTreeSet<Component> = ms.iter().map(|m| m.component).collect();
                let absent = match mode {
                    KafkaMode::Kraft => Component::Zookeeper,
                    KafkaMode::Zookeeper => Component::KafkaController,
                };
                let expected: BTreeSet<Component> = components
                    .iter()
                    .copied()
                    .filter(|c| *c != absent)
                    .collect();
                // Each template sees only the parameters, so check_object over the matrix covers
                // the objects themselves.
                assert_eq!(got, expected, "{mode:?} {components:?}");
            }
        }
    }

    #[test]
    fn every_component_has_its_template_in_apply_order() {
        let names: Vec<&str> = templates().into_iter().map(|(name, _)| name).collect();
        let components: Vec<&str> = Component::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, components);
    }

    /// What `Component` says a component is, the templates render: its workload under its
    /// name, and for a worker role `kapture-worker <name>` serving metrics.
    #[test]
    fn every_component_renders_the_workload_it_declares() {
        for (_, ms) in each_mode() {
            for component in ms.iter().map(|m| m.component) {
                let kind = component.workload().kind();
                let workload = workloads(&ms)
                    .find(|m| m.component == component)
                    .unwrap_or_else(|| panic!("{component} renders no workload"));
                assert_eq!(workload.kind(), kind, "{component}");
                assert!(
                    workload.name().starts_with(&component.object_name()),
                    "{component}: {}",
                    workload.name()
                );
                if kind != "Job" {
                    assert_eq!(workload.name(), component.object_name());
                }
                let container = &json(workload)["spec"]["template"]["spec"]["containers"][0];
                assert_eq!(
                    container["args"] == json!([component.name()]),
                    component.is_worker_role(),
                    "{component}: {}",
                    container["args"]
                );
            }
        }
    }

    #[test]
    fn zookeeper_mode_has_no_controllers_and_kraft_no_zookeeper() {
        let kraft = render(&base()).expect("renders");
        assert!(kraft.iter().all(|m| m.component != Component::Zookeeper));
        let set = |c: Component| c.object_name();
        assert_eq!(
            find(&kraft, "StatefulSet", &set(Component::KafkaController)).component,
            Component::KafkaController
        );
        let zk = render(&RenderParams {
            kafka_mode: KafkaMode::Zookeeper,
            ..base()
        })
        .expect("renders");
        assert!(zk.iter().all(|m| m.component != Component::KafkaController));
        assert_eq!(
            find(&zk, "StatefulSet", &set(Component::Zookeeper)).component,
            Component::Zookeeper
        );
        let image = |ms: &[Manifest]| {
            json(find(
                ms,
                "StatefulSet",
                &Component::KafkaBroker.object_name(),
            ))["spec"]["template"]["spec"]["containers"][0]["image"]
                .clone()
        };
        assert_eq!(image(&kraft), json!(KAFKA_IMAGE));
        assert_eq!(image(&zk), json!(KAFKA_ZOOKEEPER_MODE_IMAGE));
        let broker = json(find(
            &zk,
            "StatefulSet",
            &Component::KafkaBroker.object_name(),
        ));
        let script = broker["spec"]["template"]["spec"]["containers"][0]["args"][0]
            .as_str()
            .expect("script");
        assert!(
            script.contains("zookeeper.connect=kapture-zookeeper:2181"),
            "{script}"
        );
        assert!(!script.contains("process.roles"), "{script}");
    }

    #[test]
    fn replicas_follow_the_parameters() {
        for mode in [KafkaMode::Kraft, KafkaMode::Zookeeper] {
            let params = RenderParams {
                kafka_mode: mode,
                brokers: 7,
                controllers: 3,
                load_generators: 11,
                ..base()
            };
            let ms = render(&params).expect("renders");
            let replicas = |kind, name| json(find(&ms, kind, name))["spec"]["replicas"].clone();
            let brokers = Component::KafkaBroker.object_name();
            assert_eq!(replicas("StatefulSet", &brokers), json!(7));
            let quorum = match mode {
                KafkaMode::Kraft => Component::KafkaController,
                KafkaMode::Zookeeper => Component::Zookeeper,
            }
            .object_name();
            assert_eq!(replicas("StatefulSet", &quorum), json!(3));
            assert_eq!(replicas("Deployment", "kapture-loadgen"), json!(11));
            assert_eq!(replicas("Deployment", "kapture-order-service"), json!(2));
            for single in [
                "kapture-router",
                "kapture-sink-postgres",
                "kapture-sink-redis",
            ] {
                assert_eq!(replicas("Deployment", single), json!(1), "{single}");
            }
            let zero = render(&RenderParams {
                load_generators: 0,
                ..params.clone()
            })
            .expect("renders");
            assert_eq!(
                json(find(&zero, "Deployment", "kapture-loadgen"))["spec"]["replicas"],
                json!(0)
            );
        }
    }

    #[test]
    fn storage_lands_in_every_stateful_set() {
        for mode in [KafkaMode::Kraft, KafkaMode::Zookeeper] {
            for (storage, class) in [
                (Storage::Ephemeral, None),
                (Storage::Persistent, None),
                (Storage::Persistent, Some("fast-ssd")),
            ] {
                let params = RenderParams {
                    kafka_mode: mode,
                    storage,
                    storage_class: class.map(String::from),
                    storage_size: "37Gi".into(),
                    ..base()
                };
                let ms = render(&params).expect("renders");
                let sets: Vec<Value> = ms
                    .iter()
                    .filter(|m| m.kind() == "StatefulSet")
                    .map(json)
                    .collect();
                assert_eq!(sets.len(), 5, "broker, quorum, redis, postgres, mongo");
                for set in sets {
                    let name = set["metadata"]["name"].clone();
                    let volumes = set["spec"]["template"]["spec"]["volumes"]
                        .as_array()
                        .expect("volumes");
                    let data_volume = volumes.iter().find(|v| v["name"] == "data");
                    let claims = set["spec"]["volumeClaimTemplates"].as_array();
                    match storage {
                        Storage::Ephemeral => {
                            assert!(claims.is_none(), "{name}");
                            assert!(
                                data_volume.expect("data volume")["emptyDir"].is_object(),
                                "{name}"
                            );
                        }
                        Storage::Persistent => {
                            assert!(
                                data_volume.is_none(),
                                "{name}: data both emptyDir and claim"
                            );
                            let claims = claims.expect("claims");
                            assert_eq!(claims.len(), 1, "{name}");
                            let claim = &claims[0];
                            assert_eq!(claim["metadata"]["name"], json!("data"));
                            assert_eq!(
                                claim["metadata"]["labels"][LABEL_PART_OF],
                                json!(PART_OF),
                                "{name}"
                            );
                            assert_eq!(
                                claim["spec"]["resources"]["requests"]["storage"],
                                json!("37Gi")
                            );
                            match class {
                                Some(c) => assert_eq!(
                                    claim["spec"]["storageClassName"],
                                    json!(c),
                                    "{name}"
                                ),
                                None => assert!(
                                    claim["spec"].get("storageClassName").is_none(),
                                    "{name}"
                                ),
                            }
                        }
                    }
                    let mounted = set["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
                        .as_array()
                        .expect("mounts")
                        .iter()
                        .any(|m| m["name"] == "data");
                    assert!(mounted, "{name}: data not mounted");
                }
            }
        }
    }

    #[test]
    fn the_password_appears_only_in_the_secret() {
        let encoded = base64_standard(PASSWORD.as_bytes());
        let mongo_encoded = base64_standard(MONGO_PASSWORD.as_bytes());
        for params in matrix() {
            let mut secrets = 0;
            for m in render(&params).expect("renders") {
                let text = serde_json::to_string(&m.object).expect("serialises");
                if m.kind() == "Secret" {
                    secrets += 1;
                    // k8s-openapi decodes `data` itself: an independent check of the encoding.
                    let secret: Secret = serde_json::from_value(json(&m)).expect("a Secret");
                    let data = secret.data.expect("data");
                    let expected = match m.name() {
                        "kapture-postgres" => PASSWORD,
                        "kapture-mongo" => MONGO_PASSWORD,
                        other => panic!("unexpected Secret {other}"),
                    };
                    assert_eq!(
                        data["password"].0,
                        expected.as_bytes(),
                        "exact, despite quotes"
                    );
                    assert!(
                        secret.string_data.is_none(),
                        "stringData makes every apply a write"
                    );
                } else {
                    for secret in ["Pa55-w0rd", "M0ngo", &encoded, &mongo_encoded] {
                        assert!(
                            !text.contains(secret),
                            "a password in {} {}",
                            m.kind(),
                            m.name()
                        );
                    }
                }
            }
            assert_eq!(secrets, 2, "Postgres's and Mongo's");
        }
    }

    #[test]
    fn names_are_unique_per_kind() {
        for params in matrix() {
            let mut seen = BTreeSet::new();
            for m in render(&params).expect("renders") {
                assert!(
                    seen.insert((m.kind().to_string(), m.name().to_string())),
                    "{} {}",
                    m.kind(),
                    m.name()
                );
            }
        }
    }

    #[test]
    fn every_service_and_budget_selects_rendered_pods() {
        for (_, ms) in each_mode() {
            let pods: Vec<BTreeMap<String, String>> = workloads(&ms)
                .map(|m| labels_of(&json(m)["spec"]["template"]["metadata"]["labels"]))
                .collect();
            for m in ms
                .iter()
                .filter(|m| matches!(m.kind(), "Service" | "PodDisruptionBudget"))
            {
                let v = json(m);
                let selector = labels_of(if m.kind() == "Service" {
                    &v["spec"]["selector"]
                } else {
                    &v["spec"]["selector"]["matchLabels"]
                });
                assert!(!selector.is_empty(), "{} {}", m.kind(), m.name());
                let matched = pods
                    .iter()
                    .filter(|p| selector.iter().all(|(k, val)| p.get(k) == Some(val)))
                    .count();
                assert_eq!(
                    matched,
                    1,
                    "{} {} selects {matched} workloads",
                    m.kind(),
                    m.name()
                );
            }
        }
    }

    #[test]
    fn kafka_budgets_and_headless_services() {
        for (mode, ms) in each_mode() {
            let quorum = match mode {
                KafkaMode::Kraft => Component::KafkaController,
                KafkaMode::Zookeeper => Component::Zookeeper,
            }
            .object_name();
            for set in [Component::KafkaBroker.object_name(), quorum] {
                let pdb = find(&ms, "PodDisruptionBudget", &set);
                assert_eq!(pdb.api_version(), "policy/v1");
                assert_eq!(json(pdb)["spec"]["maxUnavailable"], json!(1));
                let headless = json(find(&ms, "Service", &format!("{set}-headless")));
                assert_eq!(headless["spec"]["clusterIP"], json!("None"));
                assert_eq!(headless["spec"]["publishNotReadyAddresses"], json!(true));
                let sts = json(find(&ms, "StatefulSet", &set));
                assert_eq!(sts["spec"]["serviceName"], json!(format!("{set}-headless")));
                let anti = &sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
                let term =
                    &anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
                assert_eq!(term["topologyKey"], json!("kubernetes.io/hostname"));
                let c = &sts["spec"]["template"]["spec"]["containers"][0];
                assert!(c["readinessProbe"]["tcpSocket"].is_object(), "{set}");
                assert!(c["livenessProbe"].is_object(), "{set}");
            }
            let client = json(find(&ms, "Service", "kapture-kafka"));
            assert_eq!(client["spec"]["ports"][0]["port"], json!(9092));
        }
    }

    #[test]
    fn kafka_node_ids_come_from_the_pod_ordinal() {
        let ms = render(&base()).expect("renders");
        let script = |name| {
            json(find(&ms, "StatefulSet", name))["spec"]["template"]["spec"]["containers"][0]
                ["args"][0]
                .as_str()
                .expect("script")
                .to_string()
        };
        let (brokers, controllers) = (
            Component::KafkaBroker.object_name(),
            Component::KafkaController.object_name(),
        );
        let broker = script(&brokers);
        assert!(
            broker.contains("KAFKA_NODE_ID=$$((100 + ${HOSTNAME##*-}))"),
            "{broker}"
        );
        assert!(
            broker.contains("PLAINTEXT://${HOSTNAME}.kapture-kafka-broker-headless.kapture-test.svc.cluster.local:9092"),
            "{broker}"
        );
        assert!(broker.contains("exec /etc/kafka/docker/run"), "{broker}");
        let controller = script(&controllers);
        assert!(
            controller.contains("KAFKA_NODE_ID=${HOSTNAME##*-}"),
            "{controller}"
        );
        let env = |name| -> BTreeMap<String, String> {
            json(find(&ms, "StatefulSet", name))["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .expect("env")
                .iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().to_string(),
                        e["value"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let (b, c) = (env(&brokers), env(&controllers));
        assert_eq!(b["KAFKA_PROCESS_ROLES"], "broker");
        assert_eq!(c["KAFKA_PROCESS_ROLES"], "controller");
        assert!(
            !c.contains_key("KAFKA_ADVERTISED_LISTENERS"),
            "the image refuses it on a controller"
        );
        assert_eq!(b["CLUSTER_ID"], c["CLUSTER_ID"]);
        assert_eq!(
            b["KAFKA_CONTROLLER_QUORUM_VOTERS"],
            c["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        );
        assert_eq!(b["KAFKA_MIN_INSYNC_REPLICAS"], "2");
        assert_eq!(b["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"], "3");
        assert_eq!(b["KAFKA_DEFAULT_REPLICATION_FACTOR"], "3");
        assert_eq!(b["KAFKA_HEAP_OPTS"], "-Xms512m -Xmx512m");
    }

    #[test]
    fn kafka_settings_are_derived_from_the_parameters() {
        let s = KafkaSettings::derive(&RenderParams {
            controllers: 3,
            namespace: "ns1".into(),
            ..base()
        });
        assert_eq!(
            s.quorum_voters,
            "0@kapture-kafka-controller-0.kapture-kafka-controller-headless.ns1.svc.cluster.local:9093,\
             1@kapture-kafka-controller-1.kapture-kafka-controller-headless.ns1.svc.cluster.local:9093,\
             2@kapture-kafka-controller-2.kapture-kafka-controller-headless.ns1.svc.cluster.local:9093"
        );
        let one = KafkaSettings::derive(&RenderParams {
            controllers: 1,
            namespace: "ns1".into(),
            ..base()
        });
        assert_eq!(
            one.zookeeper_servers,
            "server.1=kapture-zookeeper-0.kapture-zookeeper-headless.ns1.svc.cluster.local:2888:3888;2181"
        );
        assert_eq!(s.zookeeper_servers.split(' ').count(), 3);
        assert!(
            s.zookeeper_servers.starts_with("server.1=")
                && s.zookeeper_servers.contains(" server.3=")
        );
        // (brokers, rf) -> (internal rf, internal min isr, broker min insync, topic min insync)
        let cases = [
            ((1, 1), (1, 1, 1, 1)),
            ((2, 2), (2, 1, 1, 1)),
            ((3, 3), (3, 2, 2, 2)),
            ((3, 1), (3, 2, 1, 1)),
            ((5, 5), (3, 2, 2, 4)),
            ((64, 2), (3, 2, 1, 1)),
        ];
        for ((brokers, rf), expected) in cases {
            let s = KafkaSettings::derive(&RenderParams {
                brokers,
                replication_factor: rf,
                ..base()
            });
            let got = (
                s.internal_rf,
                s.internal_min_isr,
                s.broker_min_insync,
                s.topic_min_insync,
            );
            assert_eq!(got, expected, "brokers {brokers} rf {rf}");
            assert!(
                s.broker_min_insync <= s.internal_rf,
                "internal topics could never take acks=all"
            );
        }
    }

    #[test]
    fn cluster_id_is_a_stable_kafka_uuid_per_namespace() {
        let id = cluster_id("kapture");
        assert_eq!(id, cluster_id("kapture"));
        assert_ne!(id, cluster_id("kapture-2"));
        for ns in ["kapture", "a", "team-x-load-test", ""] {
            let id = cluster_id(ns);
            assert_eq!(id.len(), 22, "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{id}"
            );
            // 128 bits end on a character carrying 2 bits followed by 4 zero bits.
            assert!(
                matches!(id.chars().last(), Some('A' | 'Q' | 'g' | 'w')),
                "{id}"
            );
            assert!(!id.starts_with('-') && !id.starts_with('_'), "{id}");
        }
    }

    #[test]
    fn every_kind_holds_the_kinds_of_any_deployment() {
        let every = every_kind().expect("renders");
        for params in matrix() {
            for kind in kinds_in_apply_order(&render(&params).expect("renders")) {
                assert!(every.contains(&kind), "{kind:?} missing from {every:?}");
            }
        }
        let kraft = kinds_in_apply_order(&render(&RenderParams::default()).expect("renders"));
        assert!(every.starts_with(&kraft), "apply order: {every:?}");
    }

    #[test]
    fn base64url_encodes_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(base64_standard(b""), "");
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foob"), "Zm9vYg==");
        assert_eq!(base64_standard(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn resources_cover_every_component_with_sane_values() {
        for preset in ResourcePreset::ALL {
            let ctx = resources_context(*preset);
            for component in Component::ALL {
                let part = resources_key(component);
                let r = resources(sizing(component), *preset);
                assert_eq!(ctx[&part]["memory_limit"], json!(r.memory_limit));
                assert!(
                    quantity(r.cpu_request) <= quantity(r.cpu_limit),
                    "{part} {preset:?}"
                );
                assert!(
                    quantity(r.memory_request) <= quantity(r.memory_limit),
                    "{part} {preset:?}"
                );
                // Kafka and ZooKeeper are the JVMs; the topic Job is Kapture's own binary.
                let jvm = component.is_kafka() && component != Component::KafkaTopics;
                let mongo = component == Component::Mongo;
                assert_eq!(r.heap_mb.is_some(), jvm || mongo, "{part}");
                if let (true, Some(cache)) = (mongo, r.heap_mb) {
                    assert_eq!(
                        (u64::from(cache) << 20) * 4,
                        quantity(r.memory_limit),
                        "{part} {preset:?}: the cache is a quarter of the limit"
                    );
                }
                if let (true, Some(heap)) = (jvm, r.heap_mb) {
                    let heap_bytes = u64::from(heap) << 20;
                    assert!(
                        heap_bytes * 10 <= quantity(r.memory_limit) * 6,
                        "{part} {preset:?}: heap too big"
                    );
                    assert_eq!(
                        r.memory_request, r.memory_limit,
                        "{part}: a JVM should not be overcommitted"
                    );
                }
            }
        }
        let grows = |sizing| {
            let [s, m, l] = [
                ResourcePreset::Small,
                ResourcePreset::Medium,
                ResourcePreset::Large,
            ]
            .map(|p| quantity(resources(sizing, p).memory_limit));
            s < m && m < l
        };
        for sizing in [
            Sizing::Broker,
            Sizing::Quorum,
            Sizing::Redis,
            Sizing::Postgres,
            Sizing::Worker,
        ] {
            assert!(grows(sizing), "{sizing:?}");
        }
    }

    fn topics_job(params: &RenderParams) -> Value {
        render(params)
            .expect("renders")
            .into_iter()
            .find(|m| m.kind() == "Job")
            .map(|m| json(&m))
            .expect("job")
    }

    #[test]
    fn the_topics_job_is_the_same_object_for_the_same_topic_parameters() {
        let job = topics_job;
        let a = job(&base());
        let name = a["metadata"]["name"].as_str().unwrap().to_string();
        let spec_hash = short_hash(&serde_json::to_string(&a["spec"]).unwrap());
        assert_eq!(name, format!("kapture-kafka-topics-p6-r3-{spec_hash}"));
        for other in [
            RenderParams {
                resources: ResourcePreset::Large,
                ..base()
            },
            RenderParams {
                brokers: 9,
                load_generators: 4,
                storage: Storage::Persistent,
                ..base()
            },
        ] {
            assert_eq!(job(&other), a, "Job changed although its topic did not");
        }
        let b = job(&RenderParams {
            partitions: 24,
            replication_factor: 2,
            ..base()
        });
        assert!(b["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("kapture-kafka-topics-p24-r2-"));
        let container = &b["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["image"],
            json!("registry.example/kapture-worker:1.2.3")
        );
        assert_eq!(
            container["args"],
            json!([
                "create-topics",
                "--config",
                "min.insync.replicas=1",
                "--config",
                "retention.ms=21600000",
                "--config",
                "segment.ms=3600000"
            ])
        );
        let env = |name: &str| {
            container["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .map(|e| e["value"].clone())
        };
        assert_eq!(env(env::PARTITIONS), Some(json!("24")));
        assert_eq!(env(env::REPLICATION_FACTOR), Some(json!("2")));
        assert!(b["spec"]["ttlSecondsAfterFinished"].is_null());
    }

    #[test]
    fn every_value_of_the_topics_job_spec_is_in_its_name() {
        let a = topics_job(&base());
        // Each of these changes the pod template, which a Job cannot take as an update: it must
        // be a Job of another name, not a rejected apply.
        let others = [
            RenderParams {
                worker_image: "registry.example/kapture-worker:1.2.4".into(),
                ..base()
            },
            RenderParams {
                retention: Duration::from_secs(2 * 24 * 3600),
                ..base()
            },
            RenderParams {
                pull_policy: PullPolicy::IfNotPresent,
                ..base()
            },
            RenderParams {
                components: Component::ALL
                    .into_iter()
                    .filter(|c| !c.is_kafka() || *c == Component::KafkaTopics)
                    .collect(),
                kafka_bootstrap: Some("kafka.example.com:9092".parse().unwrap()),
                ..base()
            },
        ];
        let name_of = |job: &Value| job["metadata"]["name"].as_str().unwrap().to_string();
        let mut names = BTreeSet::from([name_of(&a)]);
        for other in &others {
            let b = topics_job(other);
            assert_ne!(b["spec"], a["spec"], "{other:?}");
            assert!(names.insert(name_of(&b)), "{other:?}");
        }
        let longest = topics_job(&RenderParams {
            partitions: 10_000,
            replication_factor: 64,
            brokers: 64,
            ..base()
        });
        let name = longest["metadata"]["name"].as_str().unwrap();
        assert!(name.len() <= 63, "{name}");
    }

    #[test]
    fn retention_is_bounded_and_sets_retention_and_segment_times() {
        assert!(check_retention(DEFAULT_RETENTION).is_ok());
        assert!(check_retention(MIN_RETENTION).is_ok());
        assert!(check_retention(MAX_RETENTION).is_ok());
        let short = check_retention(Duration::from_secs(9 * 60)).unwrap_err();
        assert!(short.contains("9m") && short.contains("10m"), "{short}");
        let long = check_retention(MAX_RETENTION + Duration::from_secs(1)).unwrap_err();
        assert!(long.contains("30d:"), "{long}");
        assert_eq!(short_duration(Duration::from_secs(5400)), "90m");
        assert_eq!(short_duration(Duration::from_secs(40 * 86_400)), "40d");
        assert_eq!(short_duration(Duration::from_secs(61)), "61s");
        let too_short = RenderParams {
            retention: Duration::from_secs(60),
            ..base()
        };
        let err = render(&too_short).unwrap_err().to_string();
        assert!(err.starts_with("--retention: "), "{err}");
        let two_days = KafkaSettings::derive(&RenderParams {
            retention: Duration::from_secs(2 * 24 * 3600),
            ..base()
        });
        assert_eq!(
            two_days.topic_configs,
            [
                "min.insync.replicas=2",
                "retention.ms=172800000",
                "segment.ms=28800000"
            ]
        );
    }

    /// The default retention's promise (docs/manifests.md, "Topic retention"): what a broker
    /// holds at the default load, each transaction written twice as a record of at most 1000
    /// bytes (the JSON averages 625), stays under half of the default volume, however long the
    /// run; without retention a day would not fit.
    #[test]
    fn the_default_retention_fits_the_default_volume() {
        let d = RenderParams::default();
        let bytes_per_second =
            u64::from(d.rate) * u64::from(d.load_generators) * 2 /* topics */ * 1000;
        // Every broker holds a replica of every partition (rf 3 on 3 brokers).
        assert_eq!(d.replication_factor, d.brokers);
        let retention = d.retention.as_secs();
        let held_seconds =
            retention + retention / u64::from(SEGMENTS_PER_RETENTION) + 5 * 60 /* check */;
        let held = bytes_per_second * held_seconds;
        let volume = quantity(&d.storage_size);
        assert!(held * 2 <= volume, "{held} bytes of {volume}");
        // Without retention a 24-hour run would not fit.
        assert!(bytes_per_second * 24 * 3600 > volume);
    }

    #[test]
    fn rendering_is_deterministic() {
        for params in matrix().into_iter().step_by(7) {
            let once: Vec<Value> = render(&params).expect("renders").iter().map(json).collect();
            let twice: Vec<Value> = render(&params).expect("renders").iter().map(json).collect();
            assert_eq!(once, twice);
        }
    }

    #[test]
    fn workers_follow_the_env_contract() {
        let ms = render(&base()).expect("renders");
        let known: BTreeSet<&str> = [
            env::KAFKA_BOOTSTRAP,
            env::REDIS_URL,
            env::POSTGRES_HOST,
            env::POSTGRES_PORT,
            env::POSTGRES_USER,
            env::POSTGRES_PASSWORD,
            env::POSTGRES_DB,
            env::MONGO_URL,
            env::MONGO_USER,
            env::MONGO_PASSWORD,
            env::MONGO_DB,
            env::ORDER_SERVICE_URL,
            env::LISTEN,
            env::METRICS_LISTEN,
            env::RATE,
            env::SEED,
            env::ACK_REDIS,
        ]
        .into();
        // Partitions and replication are the topic Job's alone: no role creates a topic.
        let roles = Component::ALL.into_iter().filter(|c| c.is_worker_role());
        for role in roles.map(Component::name) {
            let d = json(find(&ms, "Deployment", &format!("kapture-{role}")));
            let pod = &d["spec"]["template"];
            for (k, v) in [
                ("prometheus.io/scrape", "true"),
                ("prometheus.io/port", "9090"),
                ("prometheus.io/path", "/metrics"),
            ] {
                assert_eq!(pod["metadata"]["annotations"][k], json!(v), "{role}");
            }
            let c = &pod["spec"]["containers"][0];
            assert_eq!(c["image"], json!("registry.example/kapture-worker:1.2.3"));
            assert_eq!(c["imagePullPolicy"], json!("Always"));
            assert_eq!(c["args"], json!([role]));
            assert_eq!(pod["spec"]["securityContext"]["runAsUser"], json!(65532));
            let ports = c["ports"].as_array().expect("ports");
            assert!(
                ports
                    .iter()
                    .any(|p| p["name"] == "metrics" && p["containerPort"] == 9090),
                "{role}"
            );
            let vars: BTreeMap<&str, &Value> = c["env"]
                .as_array()
                .expect("env")
                .iter()
                .map(|e| (e["name"].as_str().unwrap(), e))
                .collect();
            for name in vars.keys() {
                assert!(
                    known.contains(name),
                    "{role}: {name} is not in the contract"
                );
            }
            assert_eq!(
                vars[env::METRICS_LISTEN]["value"],
                json!("0.0.0.0:9090"),
                "{role}"
            );
            assert_eq!(
                vars[env::KAFKA_BOOTSTRAP]["value"],
                json!("kapture-kafka:9092"),
                "{role}"
            );
            let needs_postgres = role == "sink-postgres";
            assert_eq!(
                vars.contains_key(env::POSTGRES_PASSWORD),
                needs_postgres,
                "{role}"
            );
            let needs_mongo = role == "sink-mongo";
            assert_eq!(
                vars.contains_key(env::MONGO_PASSWORD),
                needs_mongo,
                "{role}"
            );
        }
        let env_of = |role: &str, name: &str| {
            let d = json(find(&ms, "Deployment", &format!("kapture-{role}")));
            d["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .expect("env")
                .iter()
                .find(|e| e["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{role}: no {name}"))
        };
        assert_eq!(
            env_of("sink-postgres", env::POSTGRES_PASSWORD)["valueFrom"]["secretKeyRef"],
            json!({"name": "kapture-postgres", "key": "password"})
        );
        assert_eq!(
            env_of("sink-postgres", env::POSTGRES_HOST)["value"],
            json!("kapture-postgres")
        );
        assert_eq!(
            env_of("sink-postgres", env::POSTGRES_PORT)["value"],
            json!("5432")
        );
        for (var, key) in [
            (env::MONGO_USER, "username"),
            (env::MONGO_PASSWORD, "password"),
        ] {
            assert_eq!(
                env_of("sink-mongo", var)["valueFrom"]["secretKeyRef"],
                json!({"name": "kapture-mongo", "key": key})
            );
        }
        assert_eq!(
            env_of("sink-mongo", env::MONGO_URL)["value"],
            json!("mongodb://kapture-mongo:27017")
        );
        assert_eq!(
            env_of("order-service", env::REDIS_URL)["value"],
            json!("redis://kapture-redis:6379")
        );
        assert_eq!(
            env_of("order-service", env::LISTEN)["value"],
            json!("0.0.0.0:8080")
        );
        assert_eq!(env_of("loadgen", env::RATE)["value"], json!("250"));
        assert_eq!(
            env_of("loadgen", env::ORDER_SERVICE_URL)["value"],
            json!("http://kapture-order-service:8080")
        );
        let job = ms
            .iter()
            .find(|m| m.kind() == "Job" && m.name().starts_with("kapture-kafka-topics"))
            .expect("topic Job");
        let job = json(job);
        let job_env = job["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .expect("env")
            .clone();
        for (name, value) in [(env::PARTITIONS, "6"), (env::REPLICATION_FACTOR, "3")] {
            assert!(
                job_env.contains(&json!({"name": name, "value": value})),
                "{name} in {job_env:?}"
            );
        }

        let order = json(find(&ms, "Deployment", "kapture-order-service"));
        let c = &order["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["readinessProbe"]["httpGet"],
            json!({"path": "/readyz", "port": "http"})
        );
        assert_eq!(
            c["livenessProbe"]["httpGet"],
            json!({"path": "/healthz", "port": "http"})
        );
        let svc = json(find(&ms, "Service", "kapture-order-service"));
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"})
        );
    }

    #[test]
    fn mongo_runs_the_official_image_as_its_user_with_the_secret_and_a_bounded_cache() {
        for preset in [
            ResourcePreset::Small,
            ResourcePreset::Medium,
            ResourcePreset::Large,
        ] {
            let ms = render(&RenderParams {
                resources: preset,
                ..base()
            })
            .expect("renders");
            let set = json(find(&ms, "StatefulSet", "kapture-mongo"));
            let pod = &set["spec"]["template"]["spec"];
            let c = &pod["containers"][0];
            assert_eq!(c["image"], json!("mongo:8.0"));
            assert_eq!(pod["securityContext"]["runAsUser"], json!(999));
            assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], json!(true));
            let args: Vec<&str> = c["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let cache_mb = resources(Sizing::Mongo, preset).heap_mb.expect("a cache");
            assert_eq!(
                args[..3],
                ["mongod", "--bind_ip_all", "--wiredTigerCacheSizeGB"]
            );
            let cache_gb: f64 = args[3].parse().expect("a number of GB");
            assert_eq!(cache_gb * 1024.0, f64::from(cache_mb), "{preset:?}");
            for (var, key) in [
                ("MONGO_INITDB_ROOT_USERNAME", "username"),
                ("MONGO_INITDB_ROOT_PASSWORD", "password"),
            ] {
                let e = c["env"]
                    .as_array()
                    .expect("env")
                    .iter()
                    .find(|e| e["name"] == var)
                    .unwrap_or_else(|| panic!("no {var}"));
                assert_eq!(
                    e["valueFrom"]["secretKeyRef"],
                    json!({"name": "kapture-mongo", "key": key})
                );
            }
            assert_eq!(c["readinessProbe"]["exec"]["command"][0], json!("mongosh"));
            let mounts: BTreeSet<&str> = c["volumeMounts"]
                .as_array()
                .expect("mounts")
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            assert_eq!(
                mounts,
                BTreeSet::from(["/data/db", "/data/configdb", "/tmp"])
            );
            let secret: Secret =
                serde_json::from_value(json(find(&ms, "Secret", "kapture-mongo"))).unwrap();
            assert_eq!(secret.data.unwrap()["username"].0, b"kapture");
        }
    }

    #[test]
    fn data_services_keep_the_address_contract() {
        let ms = render(&base()).expect("renders");
        for (name, port) in [
            ("kapture-kafka", 9092),
            ("kapture-redis", 6379),
            ("kapture-postgres", 5432),
            ("kapture-mongo", 27017),
        ] {
            assert_eq!(
                json(find(&ms, "Service", name))["spec"]["ports"][0]["port"],
                json!(port),
                "{name}"
            );
        }
        let pg = json(find(&ms, "StatefulSet", "kapture-postgres"));
        let c = &pg["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            pg["spec"]["template"]["spec"]["securityContext"]["fsGroup"],
            json!(999)
        );
        let env: BTreeMap<&str, &Value> = c["env"]
            .as_array()
            .expect("env")
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e))
            .collect();
        assert_eq!(env["POSTGRES_USER"]["value"], json!("kapture"));
        assert_eq!(env["POSTGRES_DB"]["value"], json!("kapture"));
        assert_eq!(
            env["PGDATA"]["value"],
            json!("/var/lib/postgresql/data/pgdata")
        );
        assert_eq!(
            env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"],
            json!("kapture-postgres")
        );
        assert_eq!(
            c["readinessProbe"]["exec"]["command"][0],
            json!("pg_isready")
        );
        let redis = |storage| {
            let ms = render(&RenderParams { storage, ..base() }).expect("renders");
            json(find(&ms, "StatefulSet", "kapture-redis"))["spec"]["template"]["spec"]
                ["containers"][0]["args"][0]
                .as_str()
                .expect("redis command line")
                .to_string()
        };
        let ephemeral = redis(Storage::Ephemeral);
        assert!(
            ephemeral.starts_with("exec docker-entrypoint.sh redis-server --dir /data"),
            "{ephemeral}"
        );
        assert!(
            ephemeral.ends_with("--save '' --appendonly no"),
            "{ephemeral}"
        );
        assert!(redis(Storage::Persistent).ends_with("--appendonly yes"));
    }

    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            Value::Object(map) => map.values().for_each(|i| strings(i, out)),
            _ => {}
        }
    }

    /// `deploy -o yaml` output is read by kubectl, a YAML 1.1 reader, where a bare `no` or `on` is
    /// a boolean; YAML 1.2 writers leave such strings unquoted.
    #[test]
    fn no_string_reads_as_a_yaml_1_1_boolean() {
        let words = ["y", "yes", "n", "no", "on", "off"];
        for params in matrix() {
            for m in render(&params).expect("renders") {
                let v = json(&m);
                let mut found = Vec::new();
                strings(&v, &mut found);
                for s in found {
                    assert!(
                        !words.contains(&s.to_lowercase().as_str()),
                        "{} {}: {s:?}",
                        m.kind(),
                        m.name()
                    );
                }
            }
        }
    }

    /// Server-side apply on older API servers keys port lists by port and protocol, and rejects a
    /// port without one.
    #[test]
    fn every_port_declares_its_protocol() {
        let ms = render(&RenderParams {
            kafka_mode: KafkaMode::Zookeeper,
            ..base()
        })
        .into_iter()
        .chain(render(&base()))
        .flatten();
        let mut ports = 0;
        for m in ms {
            let v = json(&m);
            let mut lists: Vec<&Value> = v.pointer("/spec/ports").into_iter().collect();
            lists.extend(containers(&v).into_iter().filter_map(|c| c.get("ports")));
            for port in lists
                .into_iter()
                .flat_map(|l| l.as_array().expect("ports are a list"))
            {
                assert_eq!(
                    port["protocol"],
                    json!("TCP"),
                    "{} {}: {port}",
                    m.kind(),
                    m.name()
                );
                ports += 1;
            }
        }
        assert!(ports > 20, "only {ports} ports");
    }

    #[test]
    fn the_quote_filter_makes_any_string_a_yaml_scalar() {
        let env = minijinja_env();
        for s in [
            "plain",
            "with: colon",
            "#hash",
            "multi\nline",
            "'single' \"double\"",
            "yes",
            "0123",
            "",
        ] {
            let rendered = env
                .render_str("value: {{ s | quote }}", json!({ "s": s }))
                .expect("renders");
            let parsed: BTreeMap<String, Value> = serde_yaml::from_str(&rendered).expect("parses");
            assert_eq!(parsed["value"], json!(s), "{rendered}");
        }
    }

    /// The value of environment variable `name` in every container of the workload manifests.
    fn env_values<'a>(values: &'a [Value], name: &str) -> Vec<&'a Value> {
        values
            .iter()
            .flat_map(|v| containers(v))
            .flat_map(|c| c["env"].as_array().into_iter().flatten())
            .filter(|e| e["name"] == json!(name))
            .map(|e| &e["value"])
            .collect()
    }

    #[test]
    fn an_external_kafka_is_used_everywhere_and_none_is_deployed() {
        let params = RenderParams {
            components: Component::ALL
                .into_iter()
                .filter(|c| !c.is_kafka() || *c == Component::KafkaTopics)
                .collect(),
            kafka_bootstrap: Some("my-kafka-bootstrap.kafka.svc:9092".parse().unwrap()),
            replication_factor: 5,
            ..base()
        };
        let ms = render(&params).expect("renders");
        assert!(ms.iter().all(|m| !matches!(
            m.component,
            Component::KafkaBroker | Component::KafkaController | Component::Zookeeper
        )));
        let values: Vec<Value> = workloads(&ms).map(json).collect();
        let bootstraps = env_values(&values, env::KAFKA_BOOTSTRAP);
        assert_eq!(bootstraps.len(), 7, "every worker role and the topic Job");
        assert!(bootstraps
            .iter()
            .all(|v| *v == &json!("my-kafka-bootstrap.kafka.svc:9092")));
        let topics = ms
            .iter()
            .find(|m| m.component == Component::KafkaTopics)
            .expect("the topics still have to exist");
        assert!(serde_json::to_string(&json(topics))
            .unwrap()
            .contains("my-kafka-bootstrap.kafka.svc:9092"));
        let own = RenderParams {
            kafka_bootstrap: params.kafka_bootstrap.clone(),
            ..base()
        };
        assert!(validate(&own).unwrap_err().contains("leave kafka out"));
    }

    #[test]
    fn an_external_mongo_is_what_the_sink_writes_to_with_the_named_secret_or_none() {
        let sink_env = |params: &RenderParams| {
            let ms = render(params).expect("renders");
            let sink = ms
                .iter()
                .find(|m| m.component == Component::SinkMongo)
                .expect("the sink");
            let value = json(sink);
            let env = containers(&value)[0]["env"].clone();
            env.as_array().unwrap().clone()
        };
        let find =
            |env: &[Value], name: &str| env.iter().find(|e| e["name"] == json!(name)).cloned();
        let external = RenderParams {
            components: vec![Component::SinkMongo],
            mongo_url: Some("mongodb://mongo.data.svc:27017/?replicaSet=rs0".into()),
            ..base()
        };
        let env = sink_env(&external);
        assert_eq!(
            find(&env, env::MONGO_URL).unwrap()["value"],
            json!("mongodb://mongo.data.svc:27017/?replicaSet=rs0")
        );
        assert!(find(&env, env::MONGO_USER).is_none(), "{env:?}");
        assert!(find(&env, env::MONGO_PASSWORD).is_none(), "{env:?}");

        let with_secret = RenderParams {
            mongo_secret: Some("their-mongo".into()),
            ..external.clone()
        };
        let env = sink_env(&with_secret);
        for var in [env::MONGO_USER, env::MONGO_PASSWORD] {
            let from = &find(&env, var).unwrap()["valueFrom"]["secretKeyRef"]["name"];
            assert_eq!(from, &json!("their-mongo"), "{var}");
        }

        let own = RenderParams {
            components: vec![Component::Mongo, Component::SinkMongo],
            ..base()
        };
        let env = sink_env(&own);
        assert_eq!(
            find(&env, env::MONGO_URL).unwrap()["value"],
            json!(OWN_MONGO_URL)
        );

        let both = RenderParams {
            components: vec![Component::Mongo, Component::SinkMongo],
            ..external.clone()
        };
        assert!(validate(&both).unwrap_err().contains("leave mongo out"));
        let no_sink = RenderParams {
            components: Component::default_set(),
            ..external.clone()
        };
        assert!(validate(&no_sink)
            .unwrap_err()
            .contains("default,sink-mongo"));
        let secret_alone = RenderParams {
            mongo_secret: Some("their-mongo".into()),
            ..own
        };
        assert!(validate(&secret_alone).unwrap_err().contains("--mongo-url"));
    }

    #[test]
    fn registry_and_set_image_reach_every_container() {
        let set = |name: ImageName, image: &str| (name, image.parse::<ImageRef>().unwrap());
        let params = RenderParams {
            images: Overrides {
                registry: Some("mirror.example.com/hub".into()),
                set: [set(ImageName::Redis, "localhost/bench/redis:7-bookworm")].into(),
            },
            ..base()
        };
        let ms = render(&params).expect("renders");
        let images: BTreeSet<String> = workloads(&ms)
            .flat_map(|m| {
                containers(&json(m))
                    .into_iter()
                    .map(|c| c["image"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            images,
            BTreeSet::from(
                [
                    "mirror.example.com/hub/apache/kafka:4.1.1",
                    "mirror.example.com/hub/library/postgres:16",
                    "mirror.example.com/hub/library/mongo:8.0",
                    "mirror.example.com/hub/kapture-worker:1.2.3",
                    "localhost/bench/redis:7-bookworm",
                ]
                .map(String::from)
            )
        );
    }

    #[test]
    fn validate_rejects_more_replicas_than_brokers() {
        let bad = RenderParams {
            brokers: 2,
            replication_factor: 3,
            ..base()
        };
        assert!(validate(&bad)
            .unwrap_err()
            .contains("--replication-factor 3"));
        assert!(render(&bad).is_err());
        let no_kafka = RenderParams {
            components: vec![Component::Redis],
            ..bad
        };
        assert!(validate(&no_kafka).is_ok());
        let class_without_claims = RenderParams {
            storage: Storage::Ephemeral,
            storage_class: Some("fast".into()),
            ..base()
        };
        assert!(validate(&class_without_claims)
            .unwrap_err()
            .contains("--storage persistent"));
    }
}
