//! Shared helpers for integration tests that run against the test bench
//! (`scripts/testbench/start.sh`; see `scripts/testbench/README.md`).
//!
//! Use from a test file with `mod support;`. Tests read the bench's addresses from the
//! `KAPTURE_TEST_*` variables written to `.testbench/env`; a test run without them fails with a
//! message saying how to start the bench (tests must never pass silently without a server).
//!
//! # The kubelet stand-in
//!
//! The bench is a real kube-apiserver + kube-controller-manager v1.20.2 with no kubelet, no
//! scheduler and no Node objects. Controllers (StatefulSet, Deployment/ReplicaSet, disruption,
//! namespace, garbage collector, ...) work as usual and create pods, which stay `Pending` with no
//! `spec.nodeName`. Tests play the kubelet by writing pod status:
//!
//! * Verified on 1.20.2: the apiserver accepts a patch of the `pods/{name}/status` subresource for
//!   a pod that has **no `spec.nodeName`**; there is no need for a fake Node or a `pods/binding`.
//!   After [`mark_pod_ready`] `kubectl get pods` shows `1/1 Running` with the given pod IP; the
//!   StatefulSet controller counts the pod in `status.readyReplicas` (and then creates the next
//!   ordinal), and the disruption controller counts it as healthy in PDB status.
//! * We deliberately do **not** bind pods to a node: a pod with a `nodeName` is deleted
//!   gracefully (it waits for a kubelet to confirm), so it would stay `Terminating` for its whole
//!   grace period. An unbound pod is deleted at once, even after its status was patched to
//!   `Running`; eviction of an unbound pod also deletes it at once.
//! * Eviction (`Api::<Pod>::evict`) works on 1.20 against policy/v1beta1 PDBs: 201 when allowed,
//!   an API error with code 429 ("Cannot evict pod as it would violate the pod's disruption
//!   budget") when not; see [`client_from_kubeconfig`] about kube's default retry of 429,
//!   which otherwise turns a blocked eviction into a hang of minutes. kube 5 sends the body key `delete_options` (not `deleteOptions`), so the
//!   apiserver ignores `EvictParams::delete_options`.
//! * The stand-in marks each new pod (by UID) once. After [`mark_pod_not_ready`] it leaves that
//!   pod alone, so a test can flip readiness and watch controllers react.
#![allow(dead_code)]

pub mod node;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use serde_json::json;

/// Default bound for every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(30);

const HOW_TO_START: &str =
    "start the bench: scripts/testbench/start.sh; source .testbench/env (see scripts/testbench/README.md)";

/// The value of a bench variable, e.g. `env("KAPTURE_TEST_KAFKA")` or the short form
/// `env("KAFKA")`. Panics with instructions when it is not set: tests must fail, not pass,
/// without the bench.
pub fn env(name: &str) -> String {
    let full = if name.starts_with("KAPTURE_TEST_") {
        name.to_string()
    } else {
        format!("KAPTURE_TEST_{name}")
    };
    match std::env::var(&full) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("{full} is not set: {HOW_TO_START}"),
    }
}

/// Admin kubeconfig path (a `system:masters` token, context `kapture-test`, no default namespace).
pub fn kubeconfig_path() -> String {
    env("KAPTURE_TEST_KUBECONFIG")
}

/// Kubeconfig of user `nobody`: authenticated, no groups, no RBAC rights (every call is 403).
pub fn nobody_kubeconfig_path() -> String {
    env("KAPTURE_TEST_KUBECONFIG_NOBODY")
}

/// `127.0.0.1:PORT` of noida-db, a Kafka-protocol reimplementation (single node).
pub fn kafka_bootstrap() -> String {
    env("KAPTURE_TEST_KAFKA")
}

/// `redis://127.0.0.1:PORT`.
pub fn redis_url() -> String {
    env("KAPTURE_TEST_REDIS")
}

/// `postgres://kapture@127.0.0.1:PORT/kapture` (trust auth, no password).
pub fn postgres_url() -> String {
    env("KAPTURE_TEST_POSTGRES")
}

/// `host:port` of a `scheme://[user@]host:port[/path]` URL (as found in the bench variables).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// A client for the kubeconfig at `path` (its current context).
///
/// kube 5 retries 429/503/504 by default (`Config::default_retry`: up to 15 times, backoff up
/// to 1000 s, honouring Retry-After). An eviction blocked by a PDB answers 429, so with the
/// default a blocked `evict` hangs for minutes instead of failing. Test clients switch the
/// retry off so such outcomes show up at once; code under test must do the same (or bound
/// the call) wherever a 429 is an answer rather than overload.
pub async fn client_from_kubeconfig(path: &str) -> Client {
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("reading kubeconfig {path}: {e}; {HOW_TO_START}"));
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("loading kubeconfig {path}: {e}"));
    config.default_retry = false;
    Client::try_from(config).unwrap_or_else(|e| panic!("building a client from {path}: {e}"))
}

/// Admin client for the bench's apiserver (from `KAPTURE_TEST_KUBECONFIG`).
pub async fn admin_client() -> Client {
    client_from_kubeconfig(&kubeconfig_path()).await
}

/// Client of the rights-less user `nobody` (from `KAPTURE_TEST_KUBECONFIG_NOBODY`).
pub async fn nobody_client() -> Client {
    client_from_kubeconfig(&nobody_kubeconfig_path()).await
}

/// A DNS-1123 label `<prefix>-<random>`, at most 63 characters.
pub fn unique_name(prefix: &str) -> String {
    let mut p: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    p.truncate(50);
    let p = p.trim_matches('-');
    let p = if p.is_empty() { "t" } else { p };
    format!("{p}-{:08x}", rand::random::<u32>())
}

/// Creates a namespace with a unique name (`<prefix>-<random>`, labelled
/// `kapture-test=true`) and returns its name. Delete it with [`delete_namespace`], or use
/// [`TestNamespace`] to have it deleted on drop.
pub async fn fresh_namespace(client: &Client, prefix: &str) -> String {
    let name = unique_name(prefix);
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": { "kapture-test": "true" } }
    }))
    .expect("namespace object");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    name
}

/// Starts deleting a namespace (the namespace controller removes its contents; pods of the
/// bench have no node, so this finishes in a few seconds). Does not wait; a missing
/// namespace is fine.
pub async fn delete_namespace(client: &Client, name: &str) {
    match Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_not_found() => {}
        Err(e) => panic!("deleting namespace {name}: {e}"),
    }
}

/// A namespace deleted when dropped (also when the test panics).
pub struct TestNamespace {
    pub name: String,
    /// The kubeconfig of the cluster that holds it (the drop deletes it with its own client).
    kubeconfig: String,
    keep: bool,
}

impl TestNamespace {
    /// Creates a fresh namespace on the API-only bench, see [`fresh_namespace`].
    pub async fn new(client: &Client, prefix: &str) -> Self {
        Self::in_cluster(client, &kubeconfig_path(), prefix).await
    }

    /// Creates a fresh namespace in the cluster of `kubeconfig` (of which `client` is a client).
    pub async fn in_cluster(client: &Client, kubeconfig: &str, prefix: &str) -> Self {
        let name = fresh_namespace(client, prefix).await;
        Self {
            name,
            kubeconfig: kubeconfig.to_string(),
            keep: false,
        }
    }

    /// A unique name in the cluster of `kubeconfig` for a namespace the code under test is to
    /// create (as `deploy` does, labelling it as Kapture's); deleted on drop like the others.
    pub fn reserved(kubeconfig: &str, prefix: &str) -> Self {
        Self {
            name: unique_name(prefix),
            kubeconfig: kubeconfig.to_string(),
            keep: false,
        }
    }

    /// Keep the namespace after the test, e.g. to look at it with kubectl.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl std::ops::Deref for TestNamespace {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.keep || std::env::var_os("KAPTURE_TEST_KEEP_NAMESPACES").is_some() {
            eprintln!("keeping namespace {}", self.name);
            return;
        }
        // Drop cannot await, and the test's runtime is blocked while we are here: a clone of
        // the test's Client would deadlock (its connection tasks live on that runtime). Delete
        // from a separate thread with its own runtime and its own client, bounded in time.
        let name = self.name.clone();
        let path = self.kubeconfig.clone();
        let worker = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let work = async {
                    let client = client_from_kubeconfig(&path).await;
                    Api::<Namespace>::all(client)
                        .delete(&name, &DeleteParams::background())
                        .await
                };
                match tokio::time::timeout(Duration::from_secs(10), work).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(kube::Error::Api(s))) if s.is_not_found() => {}
                    Ok(Err(e)) => eprintln!("warning: deleting namespace {name}: {e}"),
                    Err(_) => eprintln!("warning: deleting namespace {name} timed out"),
                }
            });
        });
        let _ = worker.join();
    }
}

/// Polls `check` every 200 ms until it returns `Ok(value)` or `timeout` passes, then panics
/// with `what` and the last `Err(state)` (describe what was seen, to make failures readable).
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        let last = match tokio::time::timeout(Duration::from_secs(10), check()).await {
            Ok(Ok(v)) => return v,
            Ok(Err(state)) => state,
            Err(_) => String::from("check timed out after 10 s"),
        };
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The kubelet stand-in
// ---------------------------------------------------------------------------------------------

fn now_rfc3339() -> String {
    // k8s-openapi's Time is jiff-based in 0.29; serialise through it for the exact wire format.
    let t =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("timestamp")
}

/// A stable fake pod IP in 127.0.0.2..=127.0.0.254 derived from the pod's name.
pub fn fake_pod_ip(name: &str) -> String {
    let h = name.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    format!("127.0.0.{}", 2 + h % 253)
}

/// Builds the status the kubelet would report; `ready` sets conditions and container readiness,
/// `restart_bump` is added to each container's restartCount.
fn pod_status_patch(pod: &Pod, ready: bool, restart_bump: i32) -> serde_json::Value {
    let now = now_rfc3339();
    let name = pod.name_any();
    let status = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let start_time = status
        .start_time
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or_else(|| json!(now));
    let pod_ip = status.pod_ip.clone().unwrap_or_else(|| fake_pod_ip(&name));
    let prev_restarts = |c: &str| {
        status
            .container_statuses
            .as_ref()
            .and_then(|cs| cs.iter().find(|s| s.name == c))
            .map_or(0, |s| s.restart_count)
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let containers: Vec<serde_json::Value> = spec
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "image": c.image.clone().unwrap_or_default(),
                "imageID": "",
                "containerID": format!("kapture-testbench://{uid}/{}", c.name),
                "ready": ready,
                "started": true,
                "restartCount": prev_restarts(&c.name) + restart_bump,
                "state": { "running": { "startedAt": now } },
            })
        })
        .collect();
    let inits: Vec<serde_json::Value> = spec
        .init_containers
        .unwrap_or_default()
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "image": c.image.clone().unwrap_or_default(),
                "imageID": "",
                "ready": true,
                "restartCount": 0,
                "state": { "terminated": { "exitCode": 0, "reason": "Completed",
                                           "startedAt": now, "finishedAt": now } },
            })
        })
        .collect();
    let flag = if ready { "True" } else { "False" };
    let mut st = json!({
        "phase": "Running",
        "startTime": start_time,
        "hostIP": "127.0.0.1",
        "podIP": pod_ip,
        "podIPs": [ { "ip": pod_ip } ],
        "conditions": [
            { "type": "Initialized", "status": "True", "lastTransitionTime": now },
            { "type": "PodScheduled", "status": "True", "lastTransitionTime": now },
            { "type": "ContainersReady", "status": flag, "lastTransitionTime": now },
            { "type": "Ready", "status": flag, "lastTransitionTime": now },
        ],
        "containerStatuses": containers,
    });
    if !inits.is_empty() {
        st["initContainerStatuses"] = json!(inits);
    }
    json!({ "status": st })
}

async fn patch_pod_status(
    client: &Client,
    ns: &str,
    name: &str,
    ready: bool,
    bump: i32,
) -> kube::Result<Pod> {
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    let pod = api.get(name).await?;
    let patch = pod_status_patch(&pod, ready, bump);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// Plays the kubelet for one pod: phase Running, conditions Ready/ContainersReady=True, every
/// container ready and running (restartCount kept), startTime, podIP `127.0.0.x`.
pub async fn mark_pod_ready(client: &Client, ns: &str, name: &str) -> Pod {
    patch_pod_status(client, ns, name, true, 0)
        .await
        .unwrap_or_else(|e| panic!("marking pod {ns}/{name} ready: {e}"))
}

/// The pod keeps running but fails its readiness probe: Ready/ContainersReady=False.
pub async fn mark_pod_not_ready(client: &Client, ns: &str, name: &str) -> Pod {
    patch_pod_status(client, ns, name, false, 0)
        .await
        .unwrap_or_else(|e| panic!("marking pod {ns}/{name} not ready: {e}"))
}

/// A container crash and restart: restartCount + 1 on every container, ready again.
pub async fn mark_pod_restarted(client: &Client, ns: &str, name: &str) -> Pod {
    patch_pod_status(client, ns, name, true, 1)
        .await
        .unwrap_or_else(|e| panic!("marking pod {ns}/{name} restarted: {e}"))
}

/// A running kubelet stand-in; stops when dropped or on [`KubeletHandle::stop`].
pub struct KubeletHandle {
    task: tokio::task::JoinHandle<()>,
    marked: Arc<AtomicUsize>,
}

impl KubeletHandle {
    /// How many pods it has marked Ready so far.
    pub fn marked(&self) -> usize {
        self.marked.load(Ordering::SeqCst)
    }

    /// Stops watching; pods created afterwards stay Pending.
    pub fn stop(self) {}
}

impl Drop for KubeletHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the kubelet stand-in for namespace `ns`: every new pod (each UID once) is marked
/// Ready right away. Needs a Tokio runtime.
pub fn spawn_kubelet(client: Client, ns: &str) -> KubeletHandle {
    spawn_kubelet_with_delay(client, ns, Duration::ZERO)
}

/// Like [`spawn_kubelet`], marking each new pod Ready `delay` after it is first seen (a slow
/// container start). Pods deleted meanwhile are skipped.
pub fn spawn_kubelet_with_delay(client: Client, ns: &str, delay: Duration) -> KubeletHandle {
    let marked = Arc::new(AtomicUsize::new(0));
    let counter = marked.clone();
    let ns = ns.to_string();
    let task = tokio::spawn(async move {
        let api = Api::<Pod>::namespaced(client.clone(), &ns);
        let mut seen: HashSet<String> = HashSet::new();
        // Marking runs beside the watch so a delay does not hold up other pods. The JoinSet
        // is dropped with this task, which aborts pending marks when the handle stops.
        let mut marks = tokio::task::JoinSet::new();
        let mut pods = std::pin::pin!(watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects());
        while let Some(ev) = pods.next().await {
            while marks.try_join_next().is_some() {}
            let pod = match ev {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("kubelet stand-in ({ns}): watch error: {e}");
                    continue;
                }
            };
            let Some(uid) = pod.metadata.uid.clone() else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() || !seen.insert(uid) {
                continue;
            }
            let (client, ns, name, counter) =
                (client.clone(), ns.clone(), pod.name_any(), counter.clone());
            marks.spawn(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                match patch_pod_status(&client, &ns, &name, true, 0).await {
                    Ok(_) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(kube::Error::Api(s)) if s.is_not_found() => {}
                    Err(e) => eprintln!("kubelet stand-in: marking {ns}/{name} ready: {e}"),
                }
            });
        }
    });
    KubeletHandle { task, marked }
}

/// Runs the plugin binary with `args`: no stdin (so not a terminal), none of the user's
/// KUBECONFIG or KAPTURE_BOOTSTRAP_SERVER, bounded to two minutes. Async, so the caller's
/// runtime (e.g. the kubelet stand-in) keeps running meanwhile.
pub async fn run_plugin(args: &[&str]) -> std::process::Output {
    run_plugin_within(args, Duration::from_secs(120)).await
}

/// [`run_plugin`] bounded by `within` (a deploy that waits for real pods needs longer).
pub async fn run_plugin_within(args: &[&str], within: Duration) -> std::process::Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-kapture"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KAPTURE_BOOTSTRAP_SERVER")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(within, run)
        .await
        .unwrap_or_else(|_| panic!("kubectl-kapture {args:?} did not finish within {within:?}"))
        .expect("running kubectl-kapture")
}

/// The plugin's stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The plugin's stdout as JSON; panics showing both streams when it is not.
pub fn json_of(out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); exit {:?}\nstdout: {stdout}\nstderr: {}",
            out.status.code(),
            stderr(out)
        )
    })
}

/// Panics, showing exit code and both streams, unless the run succeeded.
pub fn assert_success(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}
