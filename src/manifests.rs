//! The embedded manifests and their rendering. Pure: no I/O beyond the embedded files.
//!
//! `manifests/NN-<part>.yaml` are minijinja templates, one file per part, rendered in file order.
//! The part name (the file name without its number) becomes the
//! `app.kubernetes.io/component` label; the renderer adds the Kapture labels and the namespace
//! to every object, so templates cannot forget them.
use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use include_dir::{include_dir, Dir};
use kube::core::DynamicObject;
use serde::Serialize;
use serde_json::{json, Value};

static MANIFESTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/manifests");

pub const FIELD_MANAGER: &str = "kubectl-kapture";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const PART_OF: &str = "kapture";
/// Selects everything Kapture manages in a namespace.
pub const SELECTOR: &str = "app.kubernetes.io/part-of=kapture";
pub const DEFAULT_WORKER_IMAGE: &str = concat!("kapture-worker:", env!("CARGO_PKG_VERSION"));

/// What `--components` chooses among. Each covers one or more manifest parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    Kafka,
    Redis,
    Postgres,
    OrderService,
    Router,
    SinkPostgres,
    SinkRedis,
    Loadgen,
}

impl Component {
    pub fn all_selectable() -> Vec<Component> {
        Component::value_variants().to_vec()
    }

    /// The manifest parts (file names without number and extension) this component renders.
    pub fn parts(self) -> &'static [&'static str] {
        match self {
            Component::Kafka => &[
                "zookeeper",
                "kafka-controller",
                "kafka-broker",
                "kafka-topics",
            ],
            Component::Redis => &["redis"],
            Component::Postgres => &["postgres"],
            Component::OrderService => &["order-service"],
            Component::Router => &["router"],
            Component::SinkPostgres => &["sink-postgres"],
            Component::SinkRedis => &["sink-redis"],
            Component::Loadgen => &["loadgen"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaMode {
    /// Kafka 4 with a KRaft controller quorum.
    Kraft,
    /// Kafka 3.x with a ZooKeeper ensemble.
    Zookeeper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Ephemeral,
    Persistent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
pub enum PullPolicy {
    #[value(name = "Always")]
    Always,
    #[value(name = "IfNotPresent")]
    IfNotPresent,
    #[value(name = "Never")]
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourcePreset {
    Small,
    Medium,
    Large,
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
    pub pull_policy: PullPolicy,
    pub resources: ResourcePreset,
    pub load_generators: u16,
    pub rate: u32,
    /// Password put into the Postgres Secret. Never logged.
    #[serde(skip)]
    pub postgres_password: String,
}

/// One object to apply, with the part it belongs to.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub part: String,
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

/// All manifest parts in apply order, as (part, template text).
pub fn templates() -> Vec<(String, &'static str)> {
    let mut files: Vec<_> = MANIFESTS
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort_by_key(|f| f.path().to_path_buf());
    files
        .into_iter()
        .filter_map(|f| {
            let stem = f.path().file_stem()?.to_str()?;
            let part = stem.split_once('-').map_or(stem, |(_, rest)| rest);
            Some((part.to_string(), f.contents_utf8()?))
        })
        .collect()
}

/// Checks flag combinations that clap cannot see.
pub fn validate(params: &RenderParams) -> Result<(), String> {
    if params.components.contains(&Component::Kafka) && params.replication_factor > params.brokers {
        return Err(format!(
            "--replication-factor {} is larger than --brokers {}: every replica needs its own broker",
            params.replication_factor, params.brokers
        ));
    }
    Ok(())
}

/// Renders the selected components into labelled objects, in apply order.
pub fn render(params: &RenderParams) -> Result<Vec<Manifest>> {
    validate(params).map_err(|m| crate::error::KaptureError::InvalidInput(m))?;
    let wanted: Vec<&str> = params
        .components
        .iter()
        .flat_map(|c| c.parts())
        .copied()
        .collect();
    let context = template_context(params);
    let env = minijinja_env();
    let mut out = Vec::new();
    for (part, text) in templates() {
        if !wanted.contains(&part.as_str()) {
            continue;
        }
        let rendered = env
            .render_str(text, &context)
            .with_context(|| format!("rendering manifest {part}"))?;
        for doc in serde_yaml::Deserializer::from_str(&rendered) {
            let value =
                Value::deserialize(doc).with_context(|| format!("parsing manifest {part}"))?;
            if value.is_null() {
                continue;
            }
            let object = labelled(value, &part, &params.namespace)
                .with_context(|| format!("in manifest {part}"))?;
            out.push(Manifest {
                part: part.clone(),
                object,
            });
        }
    }
    Ok(out)
}

use serde::Deserialize;

fn minijinja_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

/// Values the templates see: the parameters plus what is derived from them.
fn template_context(params: &RenderParams) -> Value {
    let mut ctx = serde_json::to_value(params).expect("parameters serialise");
    ctx["postgres_password"] = json!(params.postgres_password);
    ctx
}

fn labelled(mut value: Value, part: &str, namespace: &str) -> Result<DynamicObject> {
    if value.get("kind").and_then(Value::as_str).is_none() {
        bail!("object without kind");
    }
    let labels = json!({
        LABEL_PART_OF: PART_OF,
        LABEL_MANAGED_BY: FIELD_MANAGER,
        LABEL_COMPONENT: part,
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
