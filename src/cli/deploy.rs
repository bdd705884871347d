//! Arguments of `kubectl kapture deploy`.
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use std::collections::BTreeMap;

use super::{parse_duration, DryRun};
use crate::component::Component;
use crate::images::{self, ImageName, ImageRef, Overrides};
use crate::kafka::bootstrap::Bootstrap;
use crate::manifests::{self, KafkaMode, PullPolicy, RenderParams, ResourcePreset, Storage};
use crate::password::Passwords;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
kubectl kapture deploy                                  # everything, 3 brokers, KRaft\n  \
kubectl kapture deploy --components kafka,redis --brokers 1 --controllers 1 --replication-factor 1\n  \
kubectl kapture deploy --components default,mongo,sink-mongo       # adds MongoDB and its sink\n  \
kubectl kapture deploy --dry-run=client -o yaml | kubectl apply --server-side -f -   # keeps the Postgres password\n  \
kubectl kapture deploy --storage persistent --storage-class standard --wait --timeout 10m\n  \
kubectl kapture deploy --retention 2d --storage persistent --storage-size 80Gi\n  \
kubectl kapture deploy --kafka-bootstrap my-cluster-kafka-bootstrap.kafka.svc:9092  # an existing Kafka\n  \
kubectl kapture deploy --registry mirror.example.com/dockerhub --set-image worker=mirror.example.com/kapture-worker:0.1.0")]
pub struct DeployArgs {
    /// Components to deploy (comma-separated; default: all but mongo and sink-mongo). `kafka`
    /// covers its controllers (or ZooKeeper), brokers and topic Job; `default` stands for the
    /// default set, so `default,mongo,sink-mongo` adds the MongoDB store and its sink.
    #[arg(long, value_delimiter = ',', value_name = "COMPONENT",
          value_parser = PossibleValuesParser::new(choices()))]
    components: Option<Vec<String>>,
    /// Use an existing Kafka (HOST:PORT[,HOST:PORT...]) instead of deploying one: Strimzi, MSK,
    /// a broker on a laptop. Kapture's Kafka is not applied; the workload and the topic Job
    /// connect here. A cluster Service (`<svc>.<ns>.svc:PORT`) is also reached by `topics`
    /// through port-forwards.
    #[arg(long, value_name = "HOST:PORT", value_parser = clap::value_parser!(Bootstrap))]
    kafka_bootstrap: Option<Bootstrap>,
    /// Use an existing MongoDB (mongodb://HOST:PORT[,HOST:PORT][/?OPTIONS], no credentials in
    /// it) for sink-mongo instead of deploying one: Kapture's mongo is not applied, and
    /// --components must name sink-mongo (`default,sink-mongo`). `verify` reads it too.
    #[arg(long, value_name = "URL", value_parser = parse_mongo_url)]
    mongo_url: Option<String>,
    /// The Secret in the namespace with `username` and `password` for --mongo-url (SCRAM,
    /// authSource admin). Without it the sink connects without credentials.
    #[arg(long, value_name = "NAME", requires = "mongo_url", value_parser = parse_secret_name)]
    mongo_secret: Option<String>,
    /// Kafka broker replicas.
    #[arg(long, default_value_t = RenderParams::default().brokers,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    brokers: u16,
    /// KRaft controller quorum size (1 or 3); ZooKeeper ensemble size in zookeeper mode.
    #[arg(long, default_value_t = RenderParams::default().controllers,
          value_parser = PossibleValuesParser::new(["1", "3"]).map(|v| v.parse::<u16>().expect("1 or 3")))]
    controllers: u16,
    /// Kafka metadata mode: kraft (Kafka 4) or zookeeper (Kafka 3.x estates).
    #[arg(long, value_enum, default_value_t = RenderParams::default().kafka_mode)]
    kafka_mode: KafkaMode,
    /// Partitions of the `transactions` topic and the default for per-state topics.
    #[arg(long, default_value_t = RenderParams::default().partitions,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    partitions: u32,
    /// Replication factor of Kapture's topics (at most --brokers).
    #[arg(long, default_value_t = RenderParams::default().replication_factor,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    replication_factor: u16,
    /// ephemeral (emptyDir) or persistent (PersistentVolumeClaims).
    #[arg(long, value_enum, default_value_t = RenderParams::default().storage)]
    storage: Storage,
    /// StorageClass of the claims with --storage persistent (default: the cluster's default class).
    #[arg(long, value_name = "NAME")]
    storage_class: Option<String>,
    /// Size of each persistent volume.
    #[arg(long, default_value_t = RenderParams::default().storage_size, value_name = "QUANTITY")]
    storage_size: String,
    /// Image of Kapture's own workload (kapture-worker) [default: kapture-worker:<version>].
    #[arg(long, value_name = "IMAGE", value_parser = clap::value_parser!(ImageRef))]
    image: Option<ImageRef>,
    /// Pull every image from this registry (HOST[:PORT][/PATH]), keeping each image's path:
    /// redis:7.4 becomes HOST/PATH/library/redis:7.4, apache/kafka:4.1.1 HOST/PATH/apache/kafka:4.1.1.
    #[arg(long, value_name = "HOST[/PATH]", value_parser = images::parse_registry)]
    registry: Option<String>,
    /// Replace one image, as given (repeatable): NAME is kafka, zookeeper, redis, postgres or
    /// worker. --registry does not rewrite it.
    #[arg(long, value_name = "NAME=IMAGE", value_parser = images::parse_set_image)]
    set_image: Vec<(ImageName, ImageRef)>,
    /// Pull policy for Kapture's own image.
    #[arg(long, value_enum, default_value_t = RenderParams::default().pull_policy)]
    image_pull_policy: PullPolicy,
    /// Resource requests and limits: small fits a laptop cluster, large a real one.
    #[arg(long, value_enum, default_value_t = RenderParams::default().resources)]
    resources: ResourcePreset,
    /// Load generator replicas.
    #[arg(long, default_value_t = RenderParams::default().load_generators,
          value_parser = clap::value_parser!(u16).range(0..=100))]
    load_generators: u16,
    /// Transactions per second per load generator.
    #[arg(long, default_value_t = RenderParams::default().rate,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: u32,
    /// How long Kafka keeps the records of the topics Kapture creates (retention.ms), 10m to
    /// 30d, e.g. 90m, 12h, 2d. The default holds about 5 GB per broker at the default load,
    /// half of a 10Gi volume (docs/manifests.md, "Topic retention"). Applies when a topic is
    /// created; an existing topic keeps its configs.
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = parse_retention)]
    retention: Duration,
    /// Show what would be applied instead of applying it. With client and -o yaml|json, the
    /// Postgres Secret carries the password the cluster's Secret already holds (one GET, 5 s at
    /// most), so applying the output keeps it; without one, a new password and a warning.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: Option<DryRun>,
    /// Wait until every component is ready (default: on when stderr is a terminal).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    pub wait: Option<bool>,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Take over fields that another field manager owns instead of failing on the conflict.
    #[arg(long)]
    pub force_conflicts: bool,
}

/// `--retention`: a duration (humantime) within the bounds the manifests accept.
fn parse_retention(text: &str) -> Result<Duration, String> {
    let retention = parse_duration(text)?;
    manifests::check_retention(retention)?;
    Ok(retention)
}

/// What `--components` calls a component: Kafka's parts go by `kafka` together.
fn choice(component: Component) -> &'static str {
    if component.is_kafka() {
        "kafka"
    } else {
        component.name()
    }
}

/// `--components`' name for what is deployed without the flag.
const DEFAULT_SET: &str = "default";

/// The values `--components` takes: the components in apply order, then `default`.
fn choices() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Component::ALL.into_iter().map(choice).collect();
    names.dedup();
    names.push(DEFAULT_SET);
    names
}

impl DeployArgs {
    /// What to render into `namespace`; the passwords are chosen by the caller. Fails on
    /// flag combinations clap cannot see.
    pub fn render_params(&self, namespace: &str) -> Result<RenderParams, String> {
        let defaults = RenderParams::default();
        let mut set: BTreeMap<ImageName, ImageRef> = BTreeMap::new();
        for (name, image) in &self.set_image {
            if set.insert(*name, image.clone()).is_some() {
                return Err(format!("--set-image {name}=... is given twice"));
            }
        }
        if self.image.is_some() && set.contains_key(&ImageName::Worker) {
            return Err(
                "--image and --set-image worker=... both name the worker image: give one".into(),
            );
        }
        Ok(RenderParams {
            namespace: namespace.to_string(),
            components: self.components()?,
            kafka_mode: self.kafka_mode,
            brokers: self.brokers,
            controllers: self.controllers,
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            storage: self.storage,
            storage_class: self.storage_class.clone(),
            storage_size: self.storage_size.clone(),
            worker_image: self
                .image
                .as_ref()
                .map_or(defaults.worker_image, |i| i.as_str().to_string()),
            images: Overrides {
                registry: self.registry.clone(),
                set,
            },
            kafka_bootstrap: self.kafka_bootstrap.clone(),
            mongo_url: self.mongo_url.clone(),
            mongo_secret: self.mongo_secret.clone(),
            pull_policy: self.image_pull_policy,
            resources: self.resources,
            load_generators: self.load_generators,
            rate: self.rate,
            retention: self.retention,
            passwords: Passwords::default(),
        })
    }

    /// The chosen components, in apply order. With `--kafka-bootstrap` none of Kafka's own, but
    /// its topic Job whenever a workload role needs the topics.
    fn components(&self) -> Result<Vec<Component>, String> {
        let external = self.kafka_bootstrap.is_some();
        let given: Vec<&str> = match &self.components {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => vec![DEFAULT_SET],
        };
        if external && given.contains(&"kafka") {
            return Err(
                "--kafka-bootstrap replaces Kapture's Kafka: leave kafka out of --components"
                    .into(),
            );
        }
        let default = Component::default_set();
        let chosen = |c: Component| {
            given.contains(&choice(c)) || (given.contains(&DEFAULT_SET) && default.contains(&c))
        };
        let workload = Component::ALL
            .into_iter()
            .any(|c| c.is_worker_role() && chosen(c));
        Ok(Component::ALL
            .into_iter()
            .filter(|&c| match external {
                false => chosen(c),
                true if c == Component::KafkaTopics => workload,
                true => !c.is_kafka() && chosen(c),
            })
            .collect())
    }
}

fn parse_mongo_url(s: &str) -> Result<String, String> {
    crate::contract::check_mongo_url(s, "put them in a Secret and name it with --mongo-secret")?;
    Ok(s.to_owned())
}

/// A Secret's name: a DNS subdomain.
fn parse_secret_name(s: &str) -> Result<String, String> {
    if crate::dns::is_subdomain(s) {
        Ok(s.to_owned())
    } else {
        Err("not a Secret name: lower-case letters, digits, '-' and '.', at most 253".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn params(args: &[&str]) -> RenderParams {
        let argv = ["kubectl-kapture", "deploy"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Deploy(args) => args.render_params("ns").unwrap(),
            other => panic!("parsed {other:?}"),
        }
    }

    fn components(args: &[&str]) -> Vec<Component> {
        params(args).components
    }

    #[test]
    fn flags_default_to_the_default_deployment() {
        let parsed = params(&[]);
        let default = RenderParams {
            namespace: "ns".into(),
            ..RenderParams::default()
        };
        // RenderParams has no PartialEq (nothing else compares it): compare what templates see.
        assert_eq!(
            serde_json::to_value(parsed).unwrap(),
            serde_json::to_value(default).unwrap()
        );
    }

    #[test]
    fn kafka_means_all_of_its_parts_and_the_default_is_all_but_mongo() {
        assert_eq!(components(&[]), Component::default_set());
        assert_eq!(
            components(&["--components", "default"]),
            Component::default_set()
        );
        assert_eq!(
            components(&["--components", "default,mongo,sink-mongo"]),
            Component::ALL
        );
        assert_eq!(
            components(&["--components", "redis,kafka"]),
            [
                Component::Zookeeper,
                Component::KafkaController,
                Component::KafkaBroker,
                Component::KafkaTopics,
                Component::Redis
            ]
        );
        assert_eq!(
            choices(),
            [
                "kafka",
                "redis",
                "postgres",
                "mongo",
                "order-service",
                "router",
                "sink-postgres",
                "sink-redis",
                "sink-mongo",
                "loadgen",
                "default"
            ]
        );
        let argv = ["kubectl-kapture", "deploy", "--components", "kafka-broker"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    fn render_error(args: &[&str]) -> String {
        let argv = ["kubectl-kapture", "deploy"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Deploy(args) => args.render_params("ns").unwrap_err(),
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn an_external_mongo_is_checked_at_the_flags() {
        let parse = |args: &[&str]| {
            let argv = ["kubectl-kapture", "deploy"].iter().chain(args);
            Cli::try_parse_from(argv).map_err(|e| e.to_string())
        };
        let ok = [
            "--components",
            "default,sink-mongo",
            "--mongo-url",
            "mongodb://mongo.data.svc:27017",
            "--mongo-secret",
            "their-mongo.v1",
        ];
        let p = params(&ok);
        assert_eq!(
            p.mongo_url.as_deref(),
            Some("mongodb://mongo.data.svc:27017")
        );
        assert_eq!(p.mongo_secret.as_deref(), Some("their-mongo.v1"));
        assert!(p.components.contains(&Component::SinkMongo));
        let err = parse(&["--mongo-url", "mongodb://u:p@mongo:27017"]).unwrap_err();
        assert!(err.contains("--mongo-secret"), "{err}");
        let err = parse(&["--mongo-secret", "their-mongo"]).unwrap_err();
        assert!(err.contains("--mongo-url"), "{err}");
        for bad in ["Their", "-x", "x-", "a..b", "a_b", ""] {
            let args = ["--mongo-url", "mongodb://m:1", "--mongo-secret", bad];
            assert!(parse(&args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_external_kafka_replaces_kafkas_parts_but_not_its_topics() {
        let external = ["--kafka-bootstrap", "kafka.example.com:9092"];
        let all_but_kafka = components(&external);
        assert!(all_but_kafka.contains(&Component::KafkaTopics));
        assert!(!all_but_kafka
            .iter()
            .any(|c| c.is_kafka() && *c != Component::KafkaTopics));
        assert_eq!(all_but_kafka.len(), Component::default_set().len() - 3);
        let with = |more: &[&'static str]| [external.as_slice(), more].concat();
        assert_eq!(
            components(&with(&["--components", "redis"])),
            [Component::Redis],
            "no workload role, no topics to create"
        );
        assert_eq!(
            components(&with(&["--components", "order-service"])),
            [Component::KafkaTopics, Component::OrderService]
        );
        assert!(render_error(&with(&["--components", "kafka,redis"])).contains("leave kafka out"));
        let argv = ["kubectl-kapture", "deploy", "--kafka-bootstrap", "kafka"];
        assert!(
            Cli::try_parse_from(argv).is_err(),
            "HOST:PORT is checked by clap"
        );
    }

    #[test]
    fn retention_parses_durations_within_bounds() {
        assert_eq!(
            params(&[]).retention,
            manifests::DEFAULT_RETENTION,
            "the flag's default is the manifests' default"
        );
        assert_eq!(
            params(&["--retention", "2d"]).retention,
            Duration::from_secs(2 * 24 * 3600)
        );
        assert_eq!(
            params(&["--retention", "90m"]).retention,
            Duration::from_secs(90 * 60)
        );
        for bad in ["5m", "31d", "soon", "0"] {
            let argv = ["kubectl-kapture", "deploy", "--retention", bad];
            let err = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(err.contains("--retention"), "{bad}: {err}");
        }
        let argv = ["kubectl-kapture", "deploy", "--retention", "5m"];
        let err = Cli::try_parse_from(argv).unwrap_err().to_string();
        assert!(err.contains("shorter than 10m"), "{err}");
    }

    #[test]
    fn images_are_named_once() {
        let both = render_error(&["--image", "a/w:1", "--set-image", "worker=b/w:1"]);
        assert!(both.contains("give one"), "{both}");
        let twice = render_error(&["--set-image", "redis=a/r:1", "--set-image", "redis=b/r:1"]);
        assert!(twice.contains("twice"), "{twice}");
        let p = params(&[
            "--registry",
            "mirror.example.com",
            "--set-image",
            "redis=r:1",
            "--image",
            "w:2",
        ]);
        assert_eq!(p.worker_image, "w:2");
        assert_eq!(p.images.registry.as_deref(), Some("mirror.example.com"));
        assert_eq!(p.images.set[&ImageName::Redis].as_str(), "r:1");
        for bad in [
            ["--registry", "mirror"],
            ["--set-image", "cassandra=x:1"],
            ["--image", "Bad Image"],
        ] {
            let argv = ["kubectl-kapture", "deploy"].iter().chain(bad.iter());
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
