//! Field ownership of what the bench changes on Deployment kapture-loadgen (pure).
//!
//! `kubectl kapture deploy` applies the Deployment server-side as field manager
//! `kubectl-kapture`, which then owns `spec.replicas` and the value of `KAPTURE_RATE`. The
//! bench changes both with plain updates (the scale subresource, a strategic merge patch)
//! under a manager of its own, [`BENCH_FIELD_MANAGER`]. An update that changes a value takes
//! the field from its owner: left so, the next deploy that sets another value would conflict
//! with the bench's manager (HTTP 409). So after putting the values back the bench writes
//! `metadata.managedFields` once more: its own entries dropped, each field it borrowed given
//! back to whoever owned it before, every other entry as it is now (kubectl's client-side to
//! server-side apply migration edits managedFields the same way).
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use serde_json::{Map, Value};

/// The field manager of the bench's changes.
pub const BENCH_FIELD_MANAGER: &str = "kubectl-kapture-bench";

/// A field in managedFields notation: `["f:spec", "f:replicas"]`.
pub type FieldPath = Vec<String>;

/// The fields the bench changes: `spec.replicas` and the value of env var `env` of container
/// `container`.
pub fn borrowed_fields(container: &str, env: &str) -> Vec<FieldPath> {
    let key = |name: &str| format!("k:{}", serde_json::json!({ "name": name }));
    let fields = |path: &[&str]| path.iter().map(|s| s.to_string()).collect();
    vec![
        fields(&["f:spec", "f:replicas"]),
        [
            fields(&["f:spec", "f:template", "f:spec", "f:containers"]),
            vec![
                key(container),
                "f:env".to_string(),
                key(env),
                "f:value".to_string(),
            ],
        ]
        .concat(),
    ]
}

/// Whether two entries are the same manager's (what the API server keys entries by).
fn same_manager(a: &ManagedFieldsEntry, b: &ManagedFieldsEntry) -> bool {
    a.manager == b.manager && a.operation == b.operation && a.subresource == b.subresource
}

fn owns(entry: &ManagedFieldsEntry, path: &[String]) -> bool {
    let mut node = entry.fields_v1.as_ref().map(|f| &f.0);
    for part in path {
        node = node.and_then(|n| n.get(part));
    }
    node.is_some()
}

fn give(entry: &mut ManagedFieldsEntry, path: &[String]) {
    let fields = entry
        .fields_v1
        .get_or_insert_with(|| FieldsV1(Value::Object(Map::new())));
    let mut node = &mut fields.0;
    for part in path {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node = node
            .as_object_mut()
            .expect("made an object above")
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The managedFields to write once the values are back: `now` without the bench's entries,
/// and each of `fields` given back to the entries that owned it in `before`. An owner that no
/// longer has an entry gets one holding just those fields.
pub fn hand_back(
    before: &[ManagedFieldsEntry],
    now: &[ManagedFieldsEntry],
    fields: &[FieldPath],
) -> Vec<ManagedFieldsEntry> {
    let mut entries: Vec<ManagedFieldsEntry> = now
        .iter()
        .filter(|e| e.manager.as_deref() != Some(BENCH_FIELD_MANAGER))
        .cloned()
        .collect();
    for path in fields {
        for owner in before.iter().filter(|e| owns(e, path)) {
            let index = match entries.iter().position(|e| same_manager(e, owner)) {
                Some(index) => index,
                None => {
                    entries.push(ManagedFieldsEntry {
                        fields_v1: None,
                        ..owner.clone()
                    });
                    entries.len() - 1
                }
            };
            give(&mut entries[index], path);
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: &str, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            api_version: Some("apps/v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(fields)),
            ..Default::default()
        }
    }

    const RATE: &str = r#"k:{"name":"KAPTURE_RATE"}"#;
    const LOADGEN: &str = r#"k:{"name":"loadgen"}"#;

    fn deploy_owns(rate_value: bool, replicas: bool) -> ManagedFieldsEntry {
        let mut env = json!({ ".": {}, "f:name": {} });
        if rate_value {
            env["f:value"] = json!({});
        }
        let mut spec = json!({
            "f:selector": {},
            "f:template": { "f:spec": { "f:containers": { LOADGEN: {
                ".": {}, "f:image": {}, "f:env": { RATE: env }
            } } } }
        });
        if replicas {
            spec["f:replicas"] = json!({});
        }
        entry("kubectl-kapture", "Apply", json!({ "f:spec": spec }))
    }

    #[test]
    fn the_borrowed_fields_are_written_as_the_api_server_writes_them() {
        let fields = borrowed_fields("loadgen", "KAPTURE_RATE");
        assert_eq!(fields[0], ["f:spec", "f:replicas"]);
        assert_eq!(
            fields[1],
            [
                "f:spec",
                "f:template",
                "f:spec",
                "f:containers",
                LOADGEN,
                "f:env",
                RATE,
                "f:value"
            ]
        );
        assert!(owns(&deploy_owns(true, true), &fields[1]));
        assert!(!owns(&deploy_owns(false, true), &fields[1]));
    }

    #[test]
    fn the_bench_hands_back_what_it_took_and_nothing_else() {
        let fields = borrowed_fields("loadgen", "KAPTURE_RATE");
        let controller = entry(
            "kube-controller-manager",
            "Update",
            json!({ "f:status": { "f:replicas": {} } }),
        );
        let before = vec![deploy_owns(true, true), controller.clone()];
        // The rate update took the value from deploy's entry (1.20: /scale records nothing);
        // the controller wrote more status meanwhile.
        let mut later_controller = controller.clone();
        later_controller.fields_v1 = Some(FieldsV1(
            json!({ "f:status": { "f:replicas": {}, "f:readyReplicas": {} } }),
        ));
        let bench = entry(
            BENCH_FIELD_MANAGER,
            "Update",
            json!({ "f:spec": { "f:template": { "f:spec": { "f:containers": { LOADGEN: {
                "f:env": { RATE: { "f:value": {} } }
            } } } } } }),
        );
        let now = vec![deploy_owns(false, true), later_controller.clone(), bench];
        let back = hand_back(&before, &now, &fields);
        assert_eq!(back, vec![deploy_owns(true, true), later_controller]);
    }

    #[test]
    fn an_owner_whose_entry_went_gets_one_back_with_just_its_fields() {
        let fields = borrowed_fields("loadgen", "KAPTURE_RATE");
        // Someone had run `kubectl scale`; on 1.21+ the bench's scale took replicas from it.
        let scaler = entry(
            "kubectl",
            "Update",
            json!({ "f:spec": { "f:replicas": {} } }),
        );
        let before = vec![deploy_owns(true, false), scaler.clone()];
        let mut scale = entry(
            BENCH_FIELD_MANAGER,
            "Update",
            json!({ "f:spec": { "f:replicas": {} } }),
        );
        scale.subresource = Some("scale".into());
        let now = vec![deploy_owns(true, false), scale];
        let back = hand_back(&before, &now, &fields);
        assert_eq!(back, vec![deploy_owns(true, false), scaler]);
    }
}
