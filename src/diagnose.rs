//! Why a pod is not ready, from its status and the kubelet's probe events. Pure: time injected.
//!
//! One diagnosis per pod, the problem that matters most: a pod that cannot be scheduled has no
//! containers to ask; an image that cannot be pulled hides whatever the container would do.
//! A diagnosis is **stuck** when waiting will not fix it (an image that is not there, a
//! container config that cannot be made, a pod the scheduler has refused for over a minute):
//! `deploy --wait` stops early on components whose every pod is stuck.
use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Event, Pod};
use kube::ResourceExt;
use serde::Serialize;

/// How long the scheduler may refuse a pod before waiting counts as pointless: long enough for
/// a cluster autoscaler or a pod being evicted to make room.
pub const UNSCHEDULABLE_GRACE_SECONDS: i64 = 60;

/// Waiting reasons the kubelet keeps retrying but that do not resolve by themselves.
const STUCK_WAITING: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Whether the pod's Ready condition is True and it is not terminating.
pub fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What keeps one pod from being ready. Field names are stable API (`status -o json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub pod: String,
    pub container: Option<String>,
    /// The Kubernetes word for it: `ImagePullBackOff`, `CrashLoopBackOff`, `Unschedulable`,
    /// `Unhealthy` (a failing probe), `ContainerCreating`, ...
    pub reason: String,
    /// What the kubelet or scheduler said, with the last exit code for a crash loop.
    pub message: String,
    /// Waiting will not fix it.
    pub stuck: bool,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl Diagnosis {
    /// `pod: reason (message)`, for one-line reports.
    pub fn line(&self) -> String {
        let what = match &self.container {
            Some(c) => format!("{}/{c}", self.pod),
            None => self.pod.clone(),
        };
        if self.message.is_empty() {
            format!("{what}: {}", self.reason)
        } else {
            format!("{what}: {} ({})", self.reason, self.message)
        }
    }
}

/// The latest probe failure message per pod name, from `Unhealthy` events.
pub fn probe_failures(events: &[Event]) -> BTreeMap<String, String> {
    let mut latest: BTreeMap<String, (Timestamp, String)> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Unhealthy"))
    {
        let (Some(pod), Some(message)) =
            (event.involved_object.name.clone(), event.message.clone())
        else {
            continue;
        };
        let at = event
            .last_timestamp
            .as_ref()
            .or(event.first_timestamp.as_ref())
            .map(|t| t.0)
            .or_else(|| event.event_time.as_ref().map(|t| t.0))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        if latest.get(&pod).is_none_or(|(seen, _)| at >= *seen) {
            latest.insert(pod, (at, message));
        }
    }
    latest.into_iter().map(|(pod, (_, m))| (pod, m)).collect()
}

/// Why `pod` is not ready, or `None` when it is ready (or finished successfully).
pub fn pod(pod: &Pod, probes: &BTreeMap<String, String>, now: Timestamp) -> Option<Diagnosis> {
    let name = pod.name_any();
    let namespace = pod.namespace().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    if phase == "Succeeded" || is_ready(pod) {
        return None;
    }
    let diagnosis = |container: Option<&str>, reason: &str, message: String, stuck, hint| {
        Some(Diagnosis {
            pod: name.clone(),
            container: container.map(str::to_string),
            reason: reason.to_string(),
            message,
            stuck,
            hint,
        })
    };
    if let Some(unschedulable) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    }) {
        let since = unschedulable.last_transition_time.as_ref().map(|t| t.0);
        let stuck = since.is_some_and(|t| (now - t).get_seconds() >= UNSCHEDULABLE_GRACE_SECONDS);
        return diagnosis(
            None,
            "Unschedulable",
            unschedulable.message.clone().unwrap_or_default(),
            stuck,
            Some(
                "the cluster has no room for it: deploy with --resources small, fewer --brokers, or add nodes"
                    .to_string(),
            ),
        );
    }
    let containers: Vec<&ContainerStatus> = status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .collect();
    let logs = |c: &ContainerStatus| format!("kubectl -n {namespace} logs {name} -c {}", c.name);
    if phase == "Failed" {
        // A Job's pod that exited non-zero, or a pod the kubelet evicted.
        let exited = containers.iter().find_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then_some((*c, t))
        });
        return match exited {
            Some((c, t)) => diagnosis(
                Some(&c.name),
                t.reason.as_deref().unwrap_or("Error"),
                exit_message(t),
                false,
                Some(logs(c)),
            ),
            None => diagnosis(
                None,
                status.reason.as_deref().unwrap_or("Failed"),
                status.message.clone().unwrap_or_default(),
                false,
                None,
            ),
        };
    }
    // Problems the user must fix come first, then crash loops, then what only takes time.
    let waits: Vec<(&ContainerStatus, String, String)> = containers
        .iter()
        .filter_map(|&c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            Some((c, w.reason.clone()?, w.message.clone().unwrap_or_default()))
        })
        .collect();
    if let Some((c, reason, message)) = waits
        .iter()
        .find(|(_, reason, _)| STUCK_WAITING.contains(&reason.as_str()))
    {
        let hint = if reason.contains("Image") {
            format!(
                "the node cannot get image {}: load it into the cluster (kind load docker-image, minikube image load) \
                 or point Kapture at a registry the cluster can reach with --registry HOST[/PATH] or --set-image NAME=REF",
                c.image
            )
        } else {
            format!("kubectl -n {namespace} describe pod {name}")
        };
        return diagnosis(Some(&c.name), reason, message.clone(), true, Some(hint));
    }
    if let Some((c, reason, _)) = waits.iter().find(|(_, r, _)| r == "CrashLoopBackOff") {
        let last = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| format!("last {}", exit_message(t)));
        let restarts = format!("{} restarts", c.restart_count);
        let message = match last {
            Some(last) => format!("{last}; {restarts}"),
            None => restarts,
        };
        return diagnosis(
            Some(&c.name),
            reason,
            message,
            false,
            Some(format!("{} --previous", logs(c))),
        );
    }
    if let Some((c, reason, message)) = waits.first() {
        return diagnosis(Some(&c.name), reason, message.clone(), false, None);
    }
    if let Some(c) = containers
        .iter()
        .find(|c| !c.ready && c.state.as_ref().is_some_and(|s| s.running.is_some()))
    {
        let (reason, message) = match probes.get(&name) {
            Some(message) => ("Unhealthy", message.clone()),
            None => ("NotReady", "running, not ready yet".to_string()),
        };
        return diagnosis(
            Some(&c.name),
            reason,
            message,
            false,
            Some(format!("kubectl -n {namespace} describe pod {name}")),
        );
    }
    diagnosis(
        None,
        phase,
        status.message.clone().unwrap_or_default(),
        false,
        None,
    )
}

/// `exit code 137: OOMKilled[: message]`.
fn exit_message(t: &ContainerStateTerminated) -> String {
    let why = t.reason.as_deref().unwrap_or("terminated");
    match t
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        Some(m) => format!("exit code {}: {why}: {m}", t.exit_code),
        None => format!("exit code {}: {why}", t.exit_code),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn pod_with(status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "kapture-redis-0", "namespace": "kapture"},
            "status": status
        }))
        .unwrap()
    }

    fn waiting(reason: &str, message: &str) -> Value {
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "redis", "image": "redis:7.4", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": message}}
        }]})
    }

    fn diagnose(status: Value, now: i64) -> Option<Diagnosis> {
        pod(&pod_with(status), &BTreeMap::new(), at(now))
    }

    #[test]
    fn a_ready_or_finished_pod_has_nothing_to_say() {
        let ready =
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        assert_eq!(diagnose(ready, 0), None);
        assert_eq!(diagnose(json!({"phase": "Succeeded"}), 0), None);
    }

    #[test]
    fn image_pull_errors_are_stuck_and_name_the_image_and_the_flags() {
        for reason in [
            "ErrImagePull",
            "ImagePullBackOff",
            "ErrImageNeverPull",
            "InvalidImageName",
        ] {
            let d = diagnose(waiting(reason, "pull access denied"), 0).unwrap();
            assert_eq!(d.reason, reason);
            assert!(d.stuck, "{reason}");
            assert_eq!(d.container.as_deref(), Some("redis"));
            let hint = d.hint.unwrap();
            assert!(
                hint.contains("redis:7.4") && hint.contains("--set-image"),
                "{hint}"
            );
        }
    }

    #[test]
    fn a_missing_secret_is_stuck() {
        let d = diagnose(
            waiting(
                "CreateContainerConfigError",
                "secret \"kapture-postgres\" not found",
            ),
            0,
        )
        .unwrap();
        assert!(d.stuck);
        assert_eq!(
            d.line(),
            "kapture-redis-0/redis: CreateContainerConfigError (secret \"kapture-postgres\" not found)"
        );
    }

    #[test]
    fn a_crash_loop_reports_the_last_exit_and_is_not_stuck() {
        let status = json!({"phase": "Running", "containerStatuses": [{
            "name": "redis", "image": "redis:7.4", "imageID": "", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
        }]});
        let d = diagnose(status, 0).unwrap();
        assert_eq!(d.reason, "CrashLoopBackOff");
        assert_eq!(d.message, "last exit code 137: OOMKilled; 4 restarts");
        assert!(!d.stuck, "a dependency coming up may end a crash loop");
        assert!(d.hint.unwrap().contains("--previous"));
    }

    #[test]
    fn unschedulable_becomes_stuck_after_a_minute() {
        let status = json!({"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient memory.",
            "lastTransitionTime": "1970-01-01T00:16:40Z"
        }]});
        let fresh = diagnose(status.clone(), 1000 + 30).unwrap();
        assert_eq!(fresh.reason, "Unschedulable");
        assert!(fresh.message.contains("Insufficient memory"));
        assert!(!fresh.stuck);
        assert!(
            diagnose(status, 1000 + UNSCHEDULABLE_GRACE_SECONDS)
                .unwrap()
                .stuck
        );
    }

    #[test]
    fn a_failing_probe_is_named_from_the_latest_unhealthy_event() {
        let status = json!({"phase": "Running", "containerStatuses": [{
            "name": "redis", "image": "redis:7.4", "imageID": "", "ready": false, "restartCount": 0,
            "started": true, "state": {"running": {}}
        }]});
        let event = |message: &str, time: &str| -> Event {
            serde_json::from_value(json!({
                "metadata": {"name": "e"}, "reason": "Unhealthy", "message": message,
                "lastTimestamp": time,
                "involvedObject": {"kind": "Pod", "name": "kapture-redis-0"}
            }))
            .unwrap()
        };
        let probes = probe_failures(&[
            event("Readiness probe failed: new", "1970-01-01T00:00:20Z"),
            event("Readiness probe failed: old", "1970-01-01T00:00:10Z"),
        ]);
        let d = pod(&pod_with(status.clone()), &probes, at(30)).unwrap();
        assert_eq!(
            (d.reason.as_str(), d.message.as_str()),
            ("Unhealthy", "Readiness probe failed: new")
        );
        assert!(!d.stuck);
        let d = diagnose(status, 30).unwrap();
        assert_eq!(d.reason, "NotReady");
    }

    #[test]
    fn a_failed_job_pod_names_its_exit() {
        let status = json!({"phase": "Failed", "containerStatuses": [{
            "name": "topics", "image": "w:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "reason": "Error",
                                     "message": "replication factor 3 > 1 broker"}}
        }]});
        let d = diagnose(status, 0).unwrap();
        assert_eq!(
            d.line(),
            "kapture-redis-0/topics: Error (exit code 1: Error: replication factor 3 > 1 broker)"
        );
        assert!(d.hint.unwrap().contains("logs kapture-redis-0 -c topics"));
        let evicted = json!({"phase": "Failed", "reason": "Evicted", "message": "low on disk"});
        assert_eq!(
            diagnose(evicted, 0).unwrap().line(),
            "kapture-redis-0: Evicted (low on disk)"
        );
    }

    #[test]
    fn the_problem_to_fix_wins_over_the_one_that_takes_time() {
        let status = json!({"phase": "Pending", "containerStatuses": [
            {"name": "a", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}},
            {"name": "b", "image": "y:1", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}
        ]});
        let d = diagnose(status, 0).unwrap();
        assert_eq!(
            (d.container.as_deref(), d.reason.as_str()),
            (Some("b"), "ImagePullBackOff")
        );
        let creating = diagnose(waiting("ContainerCreating", ""), 0).unwrap();
        assert!(!creating.stuck);
        assert_eq!(creating.line(), "kapture-redis-0/redis: ContainerCreating");
    }
}
