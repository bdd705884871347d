//! What else lives in a namespace that `kubectl kapture delete --namespace-too` would delete.
//! Pure: the caller lists the objects; this module decides which are Kapture's and words the
//! rest for the prompt and the report.
//!
//! Deleting a namespace deletes everything in it. Kapture deletes only namespaces it created,
//! but someone may have put their own objects there since; they must be named before they go.
use std::collections::HashSet;

use kube::core::ObjectMeta;
use serde::Serialize;

use crate::manifests::is_kapture_labelled;

/// The kinds looked at, in the order they are reported. ReplicaSets are listed so that a
/// Deployment's pods are reported as the Deployment, not one by one; CronJob is asked for as
/// batch/v1beta1, the only version Kubernetes < 1.21 serves (discovery takes batch/v1 where
/// v1beta1 is gone).
pub const KINDS: [(&str, &str); 12] = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1beta1", "CronJob"),
    ("batch/v1", "Job"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ServiceAccount"),
];

/// At most this many names go into a prompt; the report lists them all.
const PROMPT_NAMES: usize = 10;

/// The objects of one kind in the namespace (metadata only).
#[derive(Debug, Clone)]
pub struct Listed {
    pub kind: String,
    pub objects: Vec<ObjectMeta>,
}

/// One object by kind and name (`-o json|yaml` field names are stable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindName {
    pub kind: String,
    pub name: String,
}

/// What Kubernetes itself puts into every namespace: not Kapture's, not the user's either.
fn is_built_in(kind: &str, meta: &ObjectMeta) -> bool {
    let name = meta.name.as_deref().unwrap_or_default();
    match kind {
        "ServiceAccount" => name == "default",
        "ConfigMap" => name == "kube-root-ca.crt",
        // Token Secrets of service accounts (type kubernetes.io/service-account-token) carry
        // this annotation; the type itself is not in the metadata.
        "Secret" => meta
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/service-account.name")),
        _ => false,
    }
}

fn owner_uids(meta: &ObjectMeta) -> impl Iterator<Item = &str> {
    meta.owner_references
        .iter()
        .flatten()
        .map(|o| o.uid.as_str())
}

/// The objects that are neither Kapture's nor built in, in [`KINDS`] order then by name.
///
/// Kapture's: labelled `app.kubernetes.io/part-of=kapture`, or owned (through any chain of
/// owner references) by such an object. An object owned by another listed object is reported
/// as its owner (a Deployment, not its ReplicaSets and pods); one whose owner is not listed
/// (a custom resource's pods) is reported itself.
pub fn foreign(listed: &[Listed]) -> Vec<KindName> {
    let all = || {
        listed
            .iter()
            .flat_map(|l| l.objects.iter().map(move |m| (l.kind.as_str(), m)))
    };
    let uid = |m: &ObjectMeta| m.uid.clone().unwrap_or_default();
    let mut ours: HashSet<String> = all()
        .filter(|(_, m)| is_kapture_labelled(m))
        .map(|(_, m)| uid(m))
        .collect();
    // Owner chains are short (Deployment -> ReplicaSet -> Pod): repeat until nothing is added.
    loop {
        let owned: Vec<String> = all()
            .filter(|(_, m)| !ours.contains(&uid(m)))
            .filter(|(_, m)| owner_uids(m).any(|o| ours.contains(o)))
            .map(|(_, m)| uid(m))
            .collect();
        if owned.is_empty() {
            break;
        }
        ours.extend(owned);
    }
    let listed_uids: HashSet<String> = all().map(|(_, m)| uid(m)).collect();
    let mut out: Vec<(usize, KindName)> = all()
        .filter(|(_, m)| !ours.contains(&uid(m)))
        .filter(|(kind, m)| !is_built_in(kind, m))
        .filter(|(_, m)| !owner_uids(m).any(|o| listed_uids.contains(o)))
        .map(|(kind, m)| {
            let rank = KINDS
                .iter()
                .position(|(_, k)| *k == kind)
                .unwrap_or(KINDS.len());
            let name = KindName {
                kind: kind.to_string(),
                name: m.name.clone().unwrap_or_default(),
            };
            (rank, name)
        })
        .collect();
    out.sort_by(|(ra, a), (rb, b)| (ra, &a.name).cmp(&(rb, &b.name)));
    out.into_iter().map(|(_, n)| n).collect()
}

/// `Kind name, Kind name, ...`, at most `max` of them, then how many more.
fn names(objects: &[KindName], max: usize) -> String {
    let mut text = objects
        .iter()
        .take(max)
        .map(|o| format!("{} {}", o.kind, o.name))
        .collect::<Vec<_>>()
        .join(", ");
    if objects.len() > max {
        text.push_str(&format!(" and {} more", objects.len() - max));
    }
    text
}

/// The sentence a confirmation adds about the namespace's other objects.
pub fn prompt_note(namespace: &str, foreign: &[KindName]) -> String {
    match foreign.len() {
        0 => format!("Nothing but Kapture's objects lives in namespace {namespace:?}."),
        n => format!(
            "Namespace {namespace:?} also holds {n} object{} Kapture did not create, deleted with it: {}{}.",
            if n == 1 { "" } else { "s" },
            names(foreign, PROMPT_NAMES),
            if n > PROMPT_NAMES {
                " (--dry-run lists them all)"
            } else {
                ""
            }
        ),
    }
}

/// Report lines (table footer) about the namespace's other objects.
pub fn report_lines(namespace: &str, foreign: &[KindName], dry_run: bool) -> Vec<String> {
    if foreign.is_empty() {
        return vec![format!(
            "Nothing but Kapture's objects lived in namespace {namespace}."
        )];
    }
    let verb = if dry_run { "would go" } else { "went" };
    let mut lines = vec![format!(
        "Not Kapture's, {verb} with namespace {namespace} ({}):",
        foreign.len()
    )];
    lines.extend(foreign.iter().map(|o| format!("  {} {}", o.kind, o.name)));
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;
    use crate::manifests::{LABEL_PART_OF, PART_OF};

    fn meta(name: &str, ours: bool, owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            labels: ours.then(|| BTreeMap::from([(LABEL_PART_OF.into(), PART_OF.into())])),
            owner_references: owner.map(|o| {
                vec![OwnerReference {
                    uid: format!("uid-{o}"),
                    name: o.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }
    }

    fn listed(kind: &str, objects: Vec<ObjectMeta>) -> Listed {
        Listed {
            kind: kind.into(),
            objects,
        }
    }

    fn kn(kind: &str, name: &str) -> KindName {
        KindName {
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// A namespace as Kubernetes 1.20 leaves it after `deploy` plus a user's own app.
    fn namespace() -> Vec<Listed> {
        let mut token = meta("default-token-x7k2p", false, None);
        token.annotations = Some(BTreeMap::from([(
            "kubernetes.io/service-account.name".into(),
            "default".into(),
        )]));
        vec![
            // Listed out of report order on purpose.
            listed(
                "Pod",
                vec![
                    meta("kapture-redis-0", true, Some("kapture-redis")),
                    meta("web-7d4b9-abcde", false, Some("web-7d4b9")),
                    meta("operator-pod", false, Some("some-custom-resource")),
                    // A pod of Kapture's Job that lost its label: owned, so Kapture's.
                    meta(
                        "kapture-kafka-topics-x",
                        false,
                        Some("kapture-kafka-topics"),
                    ),
                ],
            ),
            listed(
                "Deployment",
                vec![meta("web", false, None), meta("kapture-router", true, None)],
            ),
            listed("ReplicaSet", vec![meta("web-7d4b9", false, Some("web"))]),
            listed("StatefulSet", vec![meta("kapture-redis", true, None)]),
            listed("Job", vec![meta("kapture-kafka-topics", true, None)]),
            listed(
                "ConfigMap",
                vec![
                    meta("kube-root-ca.crt", false, None),
                    meta("settings", false, None),
                ],
            ),
            listed("Secret", vec![token, meta("kapture-postgres", true, None)]),
            listed(
                "ServiceAccount",
                vec![meta("default", false, None), meta("ci-bot", false, None)],
            ),
            listed("Service", vec![meta("web", false, None)]),
        ]
    }

    #[test]
    fn only_what_is_neither_kaptures_nor_built_in_is_foreign_and_owners_stand_for_dependents() {
        assert_eq!(
            foreign(&namespace()),
            [
                kn("Deployment", "web"),
                kn("Pod", "operator-pod"),
                kn("Service", "web"),
                kn("ConfigMap", "settings"),
                kn("ServiceAccount", "ci-bot"),
            ]
        );
    }

    #[test]
    fn a_namespace_of_kaptures_objects_and_built_ins_has_nothing_foreign() {
        let only_ours: Vec<Listed> = namespace()
            .into_iter()
            .map(|l| Listed {
                objects: l
                    .objects
                    .into_iter()
                    .filter(|m| {
                        let n = m.name.as_deref().unwrap();
                        n.starts_with("kapture-")
                            || n.starts_with("default")
                            || n == "kube-root-ca.crt"
                    })
                    .collect(),
                ..l
            })
            .collect();
        assert!(foreign(&only_ours).is_empty());
        assert_eq!(
            prompt_note("kapture", &[]),
            "Nothing but Kapture's objects lives in namespace \"kapture\"."
        );
        assert_eq!(
            report_lines("kapture", &[], true),
            ["Nothing but Kapture's objects lived in namespace kapture."]
        );
    }

    #[test]
    fn the_prompt_names_what_goes_with_the_namespace_and_stays_short() {
        let found = foreign(&namespace());
        assert_eq!(
            prompt_note("team-a", &found[..1]),
            "Namespace \"team-a\" also holds 1 object Kapture did not create, deleted with it: Deployment web."
        );
        let many: Vec<KindName> = (0..12)
            .map(|i| kn("ConfigMap", &format!("c{i:02}")))
            .collect();
        let note = prompt_note("team-a", &many);
        assert!(note.contains("12 objects"), "{note}");
        assert!(
            note.contains("ConfigMap c09 and 2 more (--dry-run lists them all)."),
            "{note}"
        );
        assert!(!note.contains("c10"), "{note}");
        assert_eq!(
            report_lines("team-a", &found[..2], true),
            [
                "Not Kapture's, would go with namespace team-a (2):",
                "  Deployment web",
                "  Pod operator-pod",
            ]
        );
        assert!(report_lines("team-a", &found, false)[0].starts_with("Not Kapture's, went with"));
    }
}
