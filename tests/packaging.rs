//! Checks of the packaging files that nothing else exercises here: the krew plugin manifest and
//! the worker image's Dockerfile (Docker cannot run on the test machine). Pure: reads files only.
use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

#[test]
fn krew_manifest_declares_four_platforms_and_warns_plainly() {
    let plugin: Value =
        serde_yaml::from_str(&read("krew/kapture.yaml")).expect("krew/kapture.yaml parses");
    assert_eq!(
        plugin["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(plugin["kind"], "Plugin");
    assert_eq!(plugin["metadata"]["name"], "kapture");
    let spec = &plugin["spec"];
    assert_eq!(spec["version"], "{{ .TagName }}");
    let short = spec["shortDescription"].as_str().expect("shortDescription");
    assert!(
        !short.is_empty() && short.len() <= 60,
        "krew wants a short one-liner: {short}"
    );
    let description = spec["description"].as_str().expect("description");
    assert!(description.contains("creates, modifies and deletes resources in your cluster"));
    assert!(description.contains("deletes or evicts pods on purpose"));
    assert!(spec["caveats"]
        .as_str()
        .is_some_and(|c| c.contains("--dry-run=client")));

    let platforms = spec["platforms"].as_array().expect("platforms");
    let mut seen = BTreeSet::new();
    let mut checksums = BTreeSet::new();
    for p in platforms {
        let os = p["selector"]["matchLabels"]["os"].as_str().expect("os");
        let arch = p["selector"]["matchLabels"]["arch"].as_str().expect("arch");
        assert!(seen.insert((os, arch)), "{os}/{arch} twice");
        assert_eq!(p["bin"], "kubectl-kapture", "{os}/{arch}");
        let uri = p["uri"].as_str().expect("uri");
        assert!(uri.starts_with("https://"), "{uri}");
        assert!(
            uri.contains("{{ .TagName }}") && uri.ends_with(&format!("-{os}-{arch}.tar.gz")),
            "{uri}"
        );
        let sha = p["sha256"].as_str().expect("sha256");
        assert_eq!(
            sha,
            format!("SHA256_{}_{}", os.to_uppercase(), arch.to_uppercase())
        );
        assert!(checksums.insert(sha.to_string()));
        let files: Vec<&str> = p["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter_map(|f| f["from"].as_str())
            .collect();
        assert!(
            files.contains(&"kubectl-kapture") && files.contains(&"LICENSE"),
            "{os}/{arch}: {files:?}"
        );
    }
    let expected: BTreeSet<(&str, &str)> = [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    ]
    .into();
    assert_eq!(seen, expected);
}

#[test]
fn dockerfile_builds_the_worker_and_runs_it_as_non_root() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    assert!(
        froms[0].starts_with("FROM rust:1-bookworm AS "),
        "{}",
        froms[0]
    );
    assert_eq!(froms[1], "FROM gcr.io/distroless/cc-debian12:nonroot");
    assert!(dockerfile.contains("cargo build --release --locked -p kapture-worker"));
    assert!(
        dockerfile.contains("cmake"),
        "librdkafka's bundled build needs cmake"
    );
    let runtime = &dockerfile[dockerfile.rfind("FROM ").expect("runtime stage")..];
    assert!(
        runtime.contains("USER 65532:65532"),
        "the manifests run the worker as 65532"
    );
    assert!(runtime.contains(r#"ENTRYPOINT ["/usr/local/bin/kapture-worker"]"#));

    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    assert!(
        ignored.iter().any(|l| l == "target"),
        "the build context must not carry target/"
    );
    for needed in ["src", "worker", "manifests", "Cargo.toml", "Cargo.lock"] {
        assert!(
            !ignored.iter().any(|l| l == needed),
            "{needed} is needed by the build"
        );
    }
}
