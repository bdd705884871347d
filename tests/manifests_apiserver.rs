//! The rendered manifests against a real API server: the test bench's kube-apiserver 1.20.2
//! (`scripts/testbench/start.sh --only kube`). Pure rendering tests live in src/manifests.rs;
//! these show that the server accepts every object under server-side apply, that its
//! controllers can create the pods, and that a second apply with the same parameters writes
//! nothing. Fails (never passes) without KAPTURE_TEST_KUBECONFIG.
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, TypeMeta};
use kube::discovery::pinned_kind;
use kube::{Api, Client, ResourceExt};

use kapture::component::Component;
use kapture::k8s::apply::content;
use kapture::manifests::{
    render, KafkaMode, Manifest, RenderParams, ResourcePreset, Storage, FIELD_MANAGER, SELECTOR,
};
use kapture::password::Passwords;

fn params(namespace: &str, mode: KafkaMode, storage: Storage, class: Option<&str>) -> RenderParams {
    RenderParams {
        namespace: namespace.to_string(),
        kafka_mode: mode,
        storage,
        storage_class: class.map(String::from),
        storage_size: "5Gi".into(),
        worker_image: "kapture-worker:test".into(),
        resources: ResourcePreset::Medium,
        load_generators: 2,
        rate: 10,
        // Every component, Mongo's too: the API server validates every template.
        components: Component::ALL.to_vec(),
        passwords: Passwords {
            postgres: "bench-password".into(),
            mongo: "bench-mongo-password".into(),
        },
        ..RenderParams::default()
    }
}

/// The resource of an object as the server serves it. 1.20 serves PodDisruptionBudget only as
/// policy/v1beta1 (same fields as v1 for what the manifests use); the deploy command makes
/// the same switch by discovery.
async fn served(client: &Client, m: &Manifest) -> (ApiResource, DynamicObject) {
    let mut object = m.object.clone();
    let types = object.types.clone().expect("rendered objects have a type");
    let gvk = GroupVersionKind::try_from(&types).expect("a valid apiVersion");
    match pinned_kind(client, &gvk).await {
        Ok((resource, _)) => (resource, object),
        Err(_) if gvk.kind == "PodDisruptionBudget" => {
            let old = GroupVersionKind::gvk("policy", "v1beta1", "PodDisruptionBudget");
            let (resource, _) = pinned_kind(client, &old)
                .await
                .expect("policy/v1beta1 PodDisruptionBudget is served");
            object.types = Some(TypeMeta {
                api_version: "policy/v1beta1".into(),
                kind: gvk.kind,
            });
            (resource, object)
        }
        Err(e) => panic!("{} {} is not served: {e}", m.kind(), m.name()),
    }
}

/// Applies every manifest in order; returns (kind/name -> (resourceVersion, generation)).
async fn apply_all(
    client: &Client,
    namespace: &str,
    manifests: &[Manifest],
    dry_run: bool,
) -> BTreeMap<String, (String, Option<i64>)> {
    let mut pp = PatchParams::apply(FIELD_MANAGER);
    if dry_run {
        pp = pp.dry_run();
    }
    let mut out = BTreeMap::new();
    for m in manifests {
        let (resource, object) = served(client, m).await;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let applied = api
            .patch(m.name(), &pp, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("applying {} {}: {e}", m.kind(), m.name()));
        let key = format!("{}/{}", m.kind(), m.name());
        out.insert(
            key,
            (
                applied.resource_version().unwrap_or_default(),
                applied.metadata.generation,
            ),
        );
    }
    out
}

#[tokio::test]
async fn every_rendered_object_passes_server_side_apply_dry_run() {
    let client = support::admin_client().await;
    let cases = [
        (KafkaMode::Kraft, Storage::Ephemeral, None),
        (KafkaMode::Kraft, Storage::Persistent, None),
        (KafkaMode::Zookeeper, Storage::Persistent, Some("fast-ssd")),
        (KafkaMode::Zookeeper, Storage::Ephemeral, None),
    ];
    for (mode, storage, class) in cases {
        let ns = support::TestNamespace::new(&client, "manifests-dry").await;
        let manifests = render(&params(&ns, mode, storage, class)).expect("renders");
        let applied = apply_all(&client, &ns, &manifests, true).await;
        assert_eq!(applied.len(), manifests.len(), "{mode:?} {storage:?}");
        // A dry run stores nothing.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let stored = Api::<DynamicObject>::namespaced_with(
            client.clone(),
            &ns,
            &pinned_kind(&client, &GroupVersionKind::gvk("apps", "v1", "StatefulSet"))
                .await
                .expect("StatefulSets are served")
                .0,
        )
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .expect("listing StatefulSets");
        assert!(stored.items.is_empty(), "a dry run created StatefulSets");
        assert!(pods
            .list(&ListParams::default())
            .await
            .expect("pods")
            .items
            .is_empty());
    }
}

#[tokio::test]
async fn reapplying_the_same_parameters_writes_nothing_and_pods_get_created() {
    let client = support::admin_client().await;
    for (mode, storage, class) in [
        (KafkaMode::Kraft, Storage::Ephemeral, None),
        (KafkaMode::Zookeeper, Storage::Persistent, Some("fast-ssd")),
    ] {
        let ns = support::TestNamespace::new(&client, "manifests-apply").await;
        let manifests = render(&params(&ns, mode, storage, class)).expect("renders");
        let first = apply_all(&client, &ns, &manifests, false).await;

        // The controllers create every pod from the templates: 3 brokers, 3 quorum members,
        // Redis, Postgres, Mongo, 2 order services, router, 3 sinks, 2 load generators, the
        // topic Job.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let by_component = support::wait_for("all pods created", Duration::from_secs(60), || {
            let pods = pods.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels(SELECTOR))
                    .await
                    .map_err(|e| e.to_string())?;
                let mut counts = BTreeMap::<String, usize>::new();
                for p in &list.items {
                    let component = p.labels().get("app.kubernetes.io/component").cloned();
                    *counts.entry(component.unwrap_or_default()).or_default() += 1;
                }
                match counts.values().sum::<usize>() {
                    18 => Ok(counts),
                    _ => Err(format!("{counts:?}")),
                }
            }
        })
        .await;
        let quorum = match mode {
            KafkaMode::Kraft => "kafka-controller",
            KafkaMode::Zookeeper => "zookeeper",
        };
        for (component, n) in [
            ("kafka-broker", 3),
            (quorum, 3),
            ("order-service", 2),
            ("loadgen", 2),
        ] {
            assert_eq!(
                by_component.get(component),
                Some(&n),
                "{component}: {by_component:?}"
            );
        }

        // Re-apply object by object, each compared with what the server held just before
        // (controllers keep writing status in between, which is not the apply's doing).
        for m in &manifests {
            let (resource, _) = served(&client, m).await;
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
            let before = api.get(m.name()).await.expect("applied object exists");
            let after = apply_all(&client, &ns, std::slice::from_ref(m), false).await;
            let key = format!("{}/{}", m.kind(), m.name());
            let (_, generation) = &after[&key];
            assert_eq!(
                &first[&key].1, generation,
                "{key}: the spec changed on re-apply"
            );
            // Judged by content, not resourceVersion: controllers keep writing status, and 1.20
            // refreshes the managed-fields time of StatefulSets with claim templates on every
            // apply; neither is the apply changing the object.
            let now = api.get(m.name()).await.expect("re-applied object exists");
            assert_eq!(
                content(&before),
                content(&now),
                "{key}: an identical apply changed the object"
            );
        }
    }
}
