//! Self-test of the integration-test bench: proves each server of `scripts/testbench/start.sh`
//! answers and that the kubelet stand-in drives real controllers. Needs the bench:
//!
//!     scripts/testbench/start.sh && source .testbench/env && cargo test --test testbench

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    ApiResource, DynamicObject, EvictParams, GroupVersionKind, ListParams, PostParams,
};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{wait_for, TestNamespace, WAIT};

/// A StatefulSet `name` with `replicas` pods labelled `app=<name>` (the image is never pulled:
/// there is no kubelet).
async fn create_statefulset(client: &Client, ns: &str, name: &str, replicas: i32) -> StatefulSet {
    let sts: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [ { "name": "main", "image": "example.invalid/none:1" } ] }
            }
        }
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sts)
        .await
        .unwrap_or_else(|e| panic!("creating statefulset {ns}/{name}: {e}"))
}

async fn wait_ready_replicas(client: &Client, ns: &str, name: &str, want: i32) {
    let api = Api::<StatefulSet>::namespaced(client.clone(), ns);
    wait_for(
        &format!("statefulset {ns}/{name} readyReplicas={want}"),
        WAIT,
        || {
            let api = api.clone();
            async move {
                let sts = api.get(name).await.map_err(|e| e.to_string())?;
                let st = sts.status.unwrap_or_default();
                let ready = st.ready_replicas.unwrap_or(0);
                if ready == want {
                    Ok(())
                } else {
                    Err(format!("replicas={} readyReplicas={ready}", st.replicas))
                }
            }
        },
    )
    .await
}

fn pdb_v1beta1() -> ApiResource {
    // 1.20 serves PodDisruptionBudget only as policy/v1beta1 (k8s-openapi 0.29 has no type).
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("policy", "v1beta1", "PodDisruptionBudget"),
        "poddisruptionbudgets",
    )
}

async fn wait_disruptions_allowed(
    api: &Api<DynamicObject>,
    name: &str,
    want: i64,
) -> serde_json::Value {
    wait_for(
        &format!("PDB {name} status.disruptionsAllowed={want}"),
        WAIT,
        || async move {
            let pdb = api.get(name).await.map_err(|e| e.to_string())?;
            let status = pdb.data.get("status").cloned().unwrap_or(json!(null));
            if status.get("disruptionsAllowed").and_then(|v| v.as_i64()) == Some(want) {
                Ok(status)
            } else {
                Err(format!("status={status}"))
            }
        },
    )
    .await
}

#[tokio::test]
async fn apiserver_answers() {
    let client = support::admin_client().await;
    let v = client.apiserver_version().await.expect("GET /version");
    assert_eq!(
        (v.major.as_str(), v.minor.as_str()),
        ("1", "20"),
        "bench runs kube 1.20: {v:?}"
    );
    // The admin token is in system:masters: it may list cluster-scoped objects.
    let nss = Api::<k8s_openapi::api::core::v1::Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .expect("list namespaces");
    assert!(
        nss.items.iter().any(|n| n.name_any() == "default"),
        "namespace default exists"
    );
}

#[tokio::test]
async fn statefulset_pods_become_ready_through_the_kubelet_stand_in() {
    let client = support::admin_client().await;
    let ns = TestNamespace::new(&client, "tb-sts").await;
    let kubelet = support::spawn_kubelet(client.clone(), &ns);
    create_statefulset(&client, &ns, "web", 2).await;

    // The real StatefulSet controller creates web-0, and web-1 only once web-0 is Ready.
    wait_ready_replicas(&client, &ns, "web", 2).await;
    assert!(
        kubelet.marked() >= 2,
        "the stand-in marked {} pods",
        kubelet.marked()
    );

    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    for name in ["web-0", "web-1"] {
        let pod = pods.get(name).await.expect("get pod");
        let st = pod.status.clone().unwrap_or_default();
        assert_eq!(st.phase.as_deref(), Some("Running"), "{name} phase");
        assert!(
            st.pod_ip.as_deref().unwrap_or("").starts_with("127.0.0."),
            "{name} podIP {:?}",
            st.pod_ip
        );
        assert!(
            pod.spec.as_ref().unwrap().node_name.is_none(),
            "{name} is not bound to a node"
        );
        let cs = st.container_statuses.unwrap_or_default();
        assert!(
            cs.len() == 1 && cs[0].ready && cs[0].restart_count == 0,
            "{name} containers {cs:?}"
        );
    }

    // Readiness flips stick: the stand-in marks each pod only once.
    support::mark_pod_not_ready(&client, &ns, "web-1").await;
    wait_ready_replicas(&client, &ns, "web", 1).await;
    let pod = support::mark_pod_restarted(&client, &ns, "web-1").await;
    let restarts = pod.status.unwrap().container_statuses.unwrap()[0].restart_count;
    assert_eq!(restarts, 1, "restartCount after a restart");
    wait_ready_replicas(&client, &ns, "web", 2).await;
    kubelet.stop();
}

#[tokio::test]
async fn pdb_v1beta1_status_and_eviction() {
    let client = support::admin_client().await;
    let ns = TestNamespace::new(&client, "tb-pdb").await;
    let kubelet = support::spawn_kubelet(client.clone(), &ns);
    create_statefulset(&client, &ns, "db", 2).await;
    wait_ready_replicas(&client, &ns, "db", 2).await;

    let ar = pdb_v1beta1();
    let pdbs = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &ar);
    let mut pdb = DynamicObject::new("db", &ar);
    pdb.data =
        json!({ "spec": { "minAvailable": 1, "selector": { "matchLabels": { "app": "db" } } } });
    pdbs.create(&PostParams::default(), &pdb)
        .await
        .expect("create policy/v1beta1 PDB");
    let status = wait_disruptions_allowed(&pdbs, "db", 1).await;
    assert_eq!(status["currentHealthy"], 2, "PDB status {status}");
    assert_eq!(status["expectedPods"], 2, "PDB status {status}");

    // Without the stand-in, a replacement pod stays Pending (unready).
    kubelet.stop();
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let old_uid = pods.get("db-0").await.unwrap().metadata.uid;
    pods.evict("db-0", &EvictParams::default())
        .await
        .expect("eviction allowed by the PDB");
    // The unbound pod is deleted at once; the controller recreates it, Pending.
    wait_for("db-0 replaced after eviction", WAIT, || {
        let pods = pods.clone();
        let old_uid = old_uid.clone();
        async move {
            match pods.get_opt("db-0").await.map_err(|e| e.to_string())? {
                Some(p) if p.metadata.uid != old_uid => Ok(()),
                Some(_) => Err("old db-0 still there".into()),
                None => Err("db-0 absent".into()),
            }
        }
    })
    .await;
    wait_disruptions_allowed(&pdbs, "db", 0).await;
    // Needs a client without kube's default retry of 429 (see support::client_from_kubeconfig).
    let blocked = tokio::time::timeout(
        Duration::from_secs(10),
        pods.evict("db-1", &EvictParams::default()),
    )
    .await
    .expect("a blocked eviction must answer at once (is kube's 429 retry on?)");
    match blocked {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 429, "eviction blocked by the PDB: {s:?}"),
        other => panic!("expected 429 from the eviction of db-1, got {other:?}"),
    }
}

#[tokio::test]
async fn nobody_is_forbidden() {
    let client = support::nobody_client().await;
    match Api::<Pod>::namespaced(client, "default")
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert!(s.is_forbidden() && s.code == 403, "{s:?}"),
        other => panic!("user nobody should get 403 listing pods, got {other:?}"),
    }
}

async fn connect(what: &str, addr: &str) -> TcpStream {
    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("{what} at {addr}: connect timed out"))
        .unwrap_or_else(|e| panic!("{what} at {addr}: {e}"))
}

async fn read_exact_timeout(what: &str, s: &mut TcpStream, buf: &mut [u8]) {
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(buf))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 5 s"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

#[tokio::test]
async fn noida_db_speaks_the_kafka_protocol() {
    let addr = support::kafka_bootstrap();
    let mut s = connect("noida-db (Kafka protocol)", &addr).await;
    // ApiVersions v0: api_key 18, api_version 0, correlation_id 7, client_id "tb".
    let body: Vec<u8> = [
        &18i16.to_be_bytes()[..],
        &0i16.to_be_bytes(),
        &7i32.to_be_bytes(),
        &2i16.to_be_bytes(),
        b"tb",
    ]
    .concat();
    let mut req = (body.len() as i32).to_be_bytes().to_vec();
    req.extend_from_slice(&body);
    s.write_all(&req).await.expect("send ApiVersions");
    let mut head = [0u8; 10]; // length, correlation_id, error_code
    read_exact_timeout("noida-db ApiVersions", &mut s, &mut head).await;
    let correlation = i32::from_be_bytes(head[4..8].try_into().unwrap());
    let error = i16::from_be_bytes(head[8..10].try_into().unwrap());
    assert_eq!(
        (correlation, error),
        (7, 0),
        "ApiVersions response header {head:?}"
    );
}

#[tokio::test]
async fn redis_answers_ping() {
    let addr = support::host_port(&support::redis_url());
    let mut s = connect("redis", &addr).await;
    s.write_all(b"PING\r\n").await.expect("send PING");
    let mut buf = [0u8; 7];
    read_exact_timeout("redis PING", &mut s, &mut buf).await;
    assert_eq!(&buf, b"+PONG\r\n");
}

#[tokio::test]
async fn postgres_accepts_connections() {
    let addr = support::host_port(&support::postgres_url());
    let mut s = connect("postgres", &addr).await;
    // SSLRequest: the server answers one byte, 'N' (no TLS on the bench).
    let mut req = 8i32.to_be_bytes().to_vec();
    req.extend_from_slice(&80877103i32.to_be_bytes());
    s.write_all(&req).await.expect("send SSLRequest");
    let mut b = [0u8; 1];
    read_exact_timeout("postgres SSLRequest", &mut s, &mut b).await;
    assert_eq!(b[0], b'N', "postgres SSLRequest answer");
}

#[test]
#[should_panic(expected = "scripts/testbench/start.sh")]
fn missing_bench_variable_fails_loudly() {
    support::env("KAPTURE_TEST_SURELY_UNSET_VARIABLE");
}
