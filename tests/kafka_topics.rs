//! `topics` and the Kafka admin layer against noida-db (a Kafka-protocol reimplementation,
//! single node, no partition reassignment API) from the test bench.
mod support;

use std::process::{Command, Output};

use kapture::kafka::admin::Admin;
use kapture::kafka::portforward::{serve, Routes};
use kapture::kafka::reassign::Reassigner;

fn kapture(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-kapture"))
        .args(args)
        .env_remove("KAPTURE_BOOTSTRAP_SERVER")
        .output()
        .expect("running kubectl-kapture")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn partitions(admin: &Admin, topic: &str) -> usize {
    admin
        .cluster()
        .await
        .unwrap()
        .topic(topic)
        .unwrap()
        .partitions
        .len()
}

#[tokio::test]
async fn create_describe_and_grow_a_topic() {
    let bootstrap = support::kafka_bootstrap();
    let admin = Admin::new(&bootstrap).unwrap();
    let topic = support::unique_name("grow");
    admin.create_topic(&topic, 2, 1).await.unwrap();
    let cluster = admin.cluster().await.unwrap();
    let described = cluster.topic(&topic).unwrap();
    assert_eq!(described.partitions.len(), 2);
    assert!(described
        .partitions
        .iter()
        .all(|p| p.replicas.len() == 1 && p.leader >= 0));

    // The listing shows it, as JSON.
    let out = kapture(&["topics", "--bootstrap-server", &bootstrap, "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = json["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == topic.as_str())
        .expect("topic listed");
    assert_eq!(row["partitions"], 2);
    assert_eq!(row["offline"], 0);

    // Dry run changes nothing.
    let out = kapture(&[
        "topics",
        "alter",
        &topic,
        "--partitions",
        "5",
        "--bootstrap-server",
        &bootstrap,
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("new partition"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(partitions(&admin, &topic).await, 2);

    // Without a terminal and without --yes it refuses (exit 2).
    let out = kapture(&[
        "topics",
        "alter",
        &topic,
        "--partitions",
        "5",
        "--bootstrap-server",
        &bootstrap,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(partitions(&admin, &topic).await, 2);

    let out = kapture(&[
        "topics",
        "alter",
        &topic,
        "--partitions",
        "5",
        "--bootstrap-server",
        &bootstrap,
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(partitions(&admin, &topic).await, 5);
}

#[tokio::test]
async fn shrinking_is_refused_before_any_change() {
    let bootstrap = support::kafka_bootstrap();
    let admin = Admin::new(&bootstrap).unwrap();
    let topic = support::unique_name("shrink");
    admin.create_topic(&topic, 4, 1).await.unwrap();
    let out = kapture(&[
        "topics",
        "alter",
        &topic,
        "--partitions",
        "2",
        "--bootstrap-server",
        &bootstrap,
        "--yes",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "usage error: {}",
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("has 4 partitions") && err.contains("cannot shrink it to 2"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(partitions(&admin, &topic).await, 4);
}

#[tokio::test]
async fn a_missing_topic_is_reported_as_not_found() {
    let bootstrap = support::kafka_bootstrap();
    let topic = support::unique_name("missing");
    let out = kapture(&[
        "topics",
        "alter",
        &topic,
        "--partitions",
        "3",
        "--bootstrap-server",
        &bootstrap,
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("topic {topic:?} not found")),
        "{}",
        text(&out.stderr)
    );
    let admin = Admin::new(&bootstrap).unwrap();
    assert!(
        admin.cluster().await.unwrap().topic(&topic).is_err(),
        "the lookup must not create the topic"
    );
}

#[tokio::test]
async fn reassignment_needs_api_key_45_which_noida_db_lacks() {
    let err = match Reassigner::connect(&support::kafka_bootstrap()).await {
        Ok(_) => panic!("noida-db has no reassignment API, yet connect succeeded"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("does not support partition reassignment (API key 45)"),
        "{err}"
    );
}

/// The port-forward tunnel, with noida-db standing in for the pod: rdkafka learns broker
/// addresses from Metadata, and the tunnel rewrites them to its own local port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnel_rewrites_advertised_brokers_to_its_local_port() {
    let upstream = support::kafka_bootstrap();
    let direct = Admin::new(&upstream).unwrap().cluster().await.unwrap();
    let advertised = direct.brokers[0].host.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap().port();
    assert_ne!(i32::from(local), direct.brokers[0].port);
    let routes = Routes::default();
    routes.write().unwrap().insert(advertised, local);
    let target = upstream.clone();
    let server = tokio::spawn(serve(
        listener,
        move || {
            let target = target.clone();
            async move { Ok(tokio::net::TcpStream::connect(target).await?) }
        },
        routes,
    ));
    let tunnelled = Admin::new(&format!("127.0.0.1:{local}")).unwrap();
    let cluster = tunnelled.cluster().await.unwrap();
    assert_eq!(cluster.brokers.len(), 1);
    assert_eq!(
        (cluster.brokers[0].host.as_str(), cluster.brokers[0].port),
        ("127.0.0.1", i32::from(local))
    );
    // Admin requests work through it too.
    let topic = support::unique_name("tunnel");
    tunnelled.create_topic(&topic, 1, 1).await.unwrap();
    tunnelled.create_partitions(&topic, 3, &[]).await.unwrap();
    assert_eq!(partitions(&tunnelled, &topic).await, 3);
    server.abort();
}

#[tokio::test]
async fn racks_are_read_over_the_wire_and_absent_on_noida_db() {
    let bootstrap = support::kafka_bootstrap();
    let racks = kapture::kafka::reassign::broker_racks(&bootstrap)
        .await
        .unwrap();
    let ids = Admin::new(&bootstrap)
        .unwrap()
        .cluster()
        .await
        .unwrap()
        .broker_ids();
    assert_eq!(racks.keys().copied().collect::<Vec<_>>(), ids);
    assert!(racks.values().all(Option::is_none), "{racks:?}");
}
