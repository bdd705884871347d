//! The container images a deployment runs: defaults, `--registry` and `--set-image`. Pure.
//!
//! `--registry HOST[:PORT][/PATH]` moves every image to a mirror, keeping its repository path as
//! a container runtime resolves it: `redis:7.4` is `docker.io/library/redis:7.4`, so it becomes
//! `HOST/PATH/library/redis:7.4`; `apache/kafka:4.1.1` becomes `HOST/PATH/apache/kafka:4.1.1`.
//! That is the layout `crane copy`, `skopeo sync` and registry proxy caches produce.
//! `--set-image NAME=REF` replaces one image exactly as given; `--registry` leaves it alone.
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::Reference;
use serde::Serialize;

/// The images a deployment can run, by the name `--set-image` knows them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageName {
    Kafka,
    Zookeeper,
    Redis,
    Postgres,
    Mongo,
    /// Kapture's own workload image (every role, the topic and verify Jobs).
    Worker,
}

impl ImageName {
    pub const ALL: [ImageName; 6] = [
        ImageName::Kafka,
        ImageName::Zookeeper,
        ImageName::Redis,
        ImageName::Postgres,
        ImageName::Mongo,
        ImageName::Worker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageName::Kafka => "kafka",
            ImageName::Zookeeper => "zookeeper",
            ImageName::Redis => "redis",
            ImageName::Postgres => "postgres",
            ImageName::Mongo => "mongo",
            ImageName::Worker => "worker",
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImageName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ImageName::ALL
            .into_iter()
            .find(|n| n.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = ImageName::ALL.iter().map(|n| n.as_str()).collect();
                format!("unknown image {name:?} (one of {})", names.join(", "))
            })
    }
}

/// A checked image reference, kept as the user spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef(String);

impl ImageRef {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parsed(&self) -> Reference {
        Reference::from_str(&self.0).expect("checked when made")
    }
}

impl FromStr for ImageRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Reference::from_str(text)
            .map(|_| ImageRef(text.to_string()))
            .map_err(|e| format!("{text:?} is not an image reference ({e})"))
    }
}

/// `--set-image NAME=REF`.
pub fn parse_set_image(text: &str) -> Result<(ImageName, ImageRef), String> {
    let (name, reference) = text.split_once('=').ok_or_else(|| {
        format!("{text:?}: expected NAME=IMAGE, e.g. redis=mirror.example/redis:7.4")
    })?;
    Ok((name.parse()?, reference.parse()?))
}

/// `--registry HOST[:PORT][/PATH]`: a registry host that a runtime cannot mistake for a Docker
/// Hub namespace (it has a dot or a port, or is `localhost`), without scheme, tag or digest.
pub fn parse_registry(text: &str) -> Result<String, String> {
    let registry = text.trim_end_matches('/');
    let host = registry.split('/').next().unwrap_or_default();
    let looks_like_host = host.contains('.') || host.contains(':') || host == "localhost";
    if registry.contains("://") || !looks_like_host {
        return Err(format!(
            "{text:?} is not a registry: give HOST[:PORT][/PATH] such as mirror.example.com/kapture \
             or localhost:5000 (a host needs a dot or a port, or is localhost)"
        ));
    }
    let probe = format!("{registry}/kapture:probe");
    match Reference::from_str(&probe) {
        Ok(parsed) if parsed.registry() == host => Ok(registry.to_string()),
        _ => Err(format!(
            "{text:?} is not a registry: HOST[:PORT][/PATH] with a lowercase path"
        )),
    }
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub registry: Option<String>,
    pub set: BTreeMap<ImageName, ImageRef>,
}

/// The image each name resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Images(BTreeMap<ImageName, String>);

impl Images {
    /// `defaults` rewritten by `--registry`, then replaced by `--set-image`.
    pub fn resolve(defaults: &BTreeMap<ImageName, ImageRef>, overrides: &Overrides) -> Images {
        let mut images: BTreeMap<ImageName, String> = defaults
            .iter()
            .map(|(name, image)| {
                let resolved = match &overrides.registry {
                    Some(registry) => on_registry(image, registry),
                    None => image.as_str().to_string(),
                };
                (*name, resolved)
            })
            .collect();
        for (name, image) in &overrides.set {
            images.insert(*name, image.as_str().to_string());
        }
        Images(images)
    }

    pub fn get(&self, name: ImageName) -> &str {
        self.0.get(&name).map(String::as_str).unwrap_or_default()
    }
}

/// `image` at `registry`, keeping its full repository path, tag and digest.
fn on_registry(image: &ImageRef, registry: &str) -> String {
    let parsed = image.parsed();
    let mut out = format!("{registry}/{}", parsed.repository());
    if let Some(tag) = parsed.tag() {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = parsed.digest() {
        out.push('@');
        out.push_str(digest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ImageRef {
        text.parse().unwrap()
    }

    fn defaults() -> BTreeMap<ImageName, ImageRef> {
        BTreeMap::from([
            (ImageName::Kafka, image("apache/kafka:4.1.1")),
            (ImageName::Redis, image("redis:7.4")),
            (ImageName::Postgres, image("docker.io/library/postgres:16")),
            (
                ImageName::Worker,
                image("ghcr.io/acme/kapture-worker:0.1.0"),
            ),
        ])
    }

    #[test]
    fn without_overrides_the_defaults_stand() {
        let images = Images::resolve(&defaults(), &Overrides::default());
        assert_eq!(images.get(ImageName::Redis), "redis:7.4");
        assert_eq!(images.get(ImageName::Zookeeper), "", "not in the defaults");
    }

    #[test]
    fn a_registry_keeps_the_path_a_runtime_resolves() {
        let overrides = Overrides {
            registry: Some(parse_registry("mirror.example.com:5000/kapture/").unwrap()),
            ..Default::default()
        };
        let images = Images::resolve(&defaults(), &overrides);
        assert_eq!(
            images.get(ImageName::Redis),
            "mirror.example.com:5000/kapture/library/redis:7.4"
        );
        assert_eq!(
            images.get(ImageName::Kafka),
            "mirror.example.com:5000/kapture/apache/kafka:4.1.1"
        );
        assert_eq!(
            images.get(ImageName::Postgres),
            "mirror.example.com:5000/kapture/library/postgres:16"
        );
        assert_eq!(
            images.get(ImageName::Worker),
            "mirror.example.com:5000/kapture/acme/kapture-worker:0.1.0"
        );
    }

    #[test]
    fn a_digest_survives_the_move() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let defaults = BTreeMap::from([(ImageName::Redis, image(&format!("redis:7.4@{digest}")))]);
        let overrides = Overrides {
            registry: Some("localhost:5000".into()),
            ..Default::default()
        };
        assert_eq!(
            Images::resolve(&defaults, &overrides).get(ImageName::Redis),
            format!("localhost:5000/library/redis:7.4@{digest}")
        );
    }

    #[test]
    fn set_image_wins_over_the_registry_and_is_kept_as_given() {
        let (name, reference) = parse_set_image("redis=localhost/bench/redis:7-bookworm").unwrap();
        let overrides = Overrides {
            registry: Some("mirror.example.com".into()),
            set: BTreeMap::from([(name, reference)]),
        };
        let images = Images::resolve(&defaults(), &overrides);
        assert_eq!(
            images.get(ImageName::Redis),
            "localhost/bench/redis:7-bookworm"
        );
        assert_eq!(
            images.get(ImageName::Kafka),
            "mirror.example.com/apache/kafka:4.1.1"
        );
    }

    #[test]
    fn bad_input_is_named() {
        assert!(parse_set_image("redis").unwrap_err().contains("NAME=IMAGE"));
        assert!(parse_set_image("cassandra=x:1")
            .unwrap_err()
            .contains("one of kafka"));
        assert!(parse_set_image("redis=Not A Ref")
            .unwrap_err()
            .contains("not an image"));
        for bad in [
            "mirror",
            "https://mirror.example.com",
            "mirror.example.com/UPPER",
            "",
        ] {
            assert!(parse_registry(bad).is_err(), "{bad}");
        }
        for good in [
            "localhost",
            "localhost:5000",
            "registry.local:5000/x",
            "mirror.example.com/a/b",
        ] {
            assert!(parse_registry(good).is_ok(), "{good}");
        }
    }
}
