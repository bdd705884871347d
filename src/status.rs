//! Kubernetes objects -> one status row per component. Pure: the caller lists, this decides.
use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use serde::Serialize;

use crate::diagnose::{self, Diagnosis};
use crate::manifests::LABEL_COMPONENT;

/// What `kubectl kapture status` reports. Field names are stable API (`-o json|yaml`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub context: String,
    pub namespace: String,
    pub components: Vec<ComponentStatus>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentStatus {
    pub component: String,
    pub kind: String,
    pub name: String,
    pub desired: i32,
    pub ready: i32,
    pub restarts: i32,
    pub age_seconds: i64,
    pub state: State,
    /// Why pods of the component are not ready, one entry per such pod.
    pub problems: Vec<Diagnosis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    /// Every desired replica is ready and up to date.
    Ready,
    /// Rolling out or starting: not every replica is ready yet.
    Progressing,
    /// Scaled to zero on purpose.
    ScaledDown,
    /// A Job that finished successfully.
    Complete,
    /// A Job that gave up.
    Failed,
    /// Not ready, and every one of its pods is stuck on something waiting will not fix (an
    /// image that cannot be pulled, a missing Secret, no room in the cluster).
    Stuck,
}

impl State {
    /// Whether a deploy waiting for readiness can stop waiting on this component.
    pub fn is_settled(self) -> bool {
        matches!(self, State::Ready | State::ScaledDown | State::Complete)
    }

    /// Whether waiting longer cannot make it ready.
    pub fn is_hopeless(self) -> bool {
        matches!(self, State::Stuck | State::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub deployed: bool,
    pub components: usize,
    pub ready: usize,
    pub restarts: i32,
}

/// Everything labelled part-of=kapture in the namespace, as listed from the API, and the
/// namespace's probe failures (`Unhealthy` events, which carry no labels).
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub statefulsets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub jobs: Vec<Job>,
    pub pods: Vec<Pod>,
    pub events: Vec<Event>,
}

pub fn report(context: &str, namespace: &str, observed: &Observed, now: Timestamp) -> StatusReport {
    let restarts = restarts_by_component(&observed.pods);
    let restarts_of = |component: &str| restarts.get(component).copied().unwrap_or(0);
    let probes = diagnose::probe_failures(&observed.events);
    let mut rows = Vec::new();
    for sts in &observed.statefulsets {
        let status = sts.status.clone().unwrap_or_default();
        let desired = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let up_to_date = status.observed_generation >= sts.metadata.generation
            && status.updated_replicas.unwrap_or(0) >= desired;
        rows.push(row(
            sts,
            "StatefulSet",
            desired,
            status.ready_replicas.unwrap_or(0),
            up_to_date,
            &restarts_of,
            now,
        ));
    }
    for deploy in &observed.deployments {
        let status = deploy.status.clone().unwrap_or_default();
        let desired = deploy.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let up_to_date = status.observed_generation >= deploy.metadata.generation
            && status.updated_replicas.unwrap_or(0) >= desired;
        rows.push(row(
            deploy,
            "Deployment",
            desired,
            status.ready_replicas.unwrap_or(0),
            up_to_date,
            &restarts_of,
            now,
        ));
    }
    for job in &observed.jobs {
        let status = job.status.clone().unwrap_or_default();
        let complete = job_condition(job, "Complete");
        let failed = job_condition(job, "Failed");
        let mut r = row(job, "Job", 1, i32::from(complete), true, &restarts_of, now);
        r.state = if complete {
            State::Complete
        } else if failed {
            State::Failed
        } else {
            State::Progressing
        };
        r.ready = status.succeeded.unwrap_or(0).min(1);
        rows.push(r);
    }
    for r in &mut rows {
        // A Job's pods carry its name; the other workloads own every pod of their component.
        let owned = |pod: &&Pod| match r.kind.as_str() {
            "Job" => pod.labels().get("job-name") == Some(&r.name),
            _ => pod.labels().get(LABEL_COMPONENT) == Some(&r.component),
        };
        let pods: Vec<&Pod> = observed
            .pods
            .iter()
            .filter(owned)
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        r.problems = pods
            .iter()
            .filter_map(|p| diagnose::pod(p, &probes, now))
            .collect();
        let every_pod_stuck = !pods.is_empty()
            && r.problems.len() == pods.len()
            && r.problems.iter().all(|d| d.stuck);
        if r.state == State::Progressing && every_pod_stuck {
            r.state = State::Stuck;
        }
    }
    rows.sort_by(|a, b| (&a.component, &a.kind, &a.name).cmp(&(&b.component, &b.kind, &b.name)));
    let summary = Summary {
        deployed: !rows.is_empty(),
        components: rows.len(),
        ready: rows.iter().filter(|r| r.state.is_settled()).count(),
        restarts: rows.iter().map(|r| r.restarts).sum(),
    };
    StatusReport {
        context: context.to_string(),
        namespace: namespace.to_string(),
        components: rows,
        summary,
    }
}

fn row<K: ResourceExt>(
    object: &K,
    kind: &str,
    desired: i32,
    ready: i32,
    up_to_date: bool,
    restarts_of: &dyn Fn(&str) -> i32,
    now: Timestamp,
) -> ComponentStatus {
    let component = object
        .labels()
        .get(LABEL_COMPONENT)
        .cloned()
        .unwrap_or_else(|| object.name_any());
    let state = if desired == 0 {
        State::ScaledDown
    } else if ready >= desired && up_to_date {
        State::Ready
    } else {
        State::Progressing
    };
    ComponentStatus {
        restarts: restarts_of(&component),
        component,
        kind: kind.to_string(),
        name: object.name_any(),
        desired,
        ready,
        age_seconds: object
            .creation_timestamp()
            .map(|t| now.as_second() - t.0.as_second())
            .unwrap_or(0)
            .max(0),
        state,
        problems: Vec::new(),
    }
}

fn job_condition(job: &Job, kind: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

fn restarts_by_component(pods: &[Pod]) -> BTreeMap<String, i32> {
    let mut sums = BTreeMap::new();
    for pod in pods {
        let Some(component) = pod.labels().get(LABEL_COMPONENT) else {
            continue;
        };
        let restarts: i32 = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| c.restart_count).sum())
            .unwrap_or(0);
        *sums.entry(component.clone()).or_insert(0) += restarts;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn sts(
        component: &str,
        replicas: i32,
        ready: i32,
        updated: i32,
        generation: i64,
        observed: i64,
    ) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": format!("kapture-{component}"), "generation": generation,
                         "creationTimestamp": "1970-01-01T00:16:40Z",
                         "labels": {LABEL_COMPONENT: component}},
            "spec": {"replicas": replicas, "serviceName": "x", "selector": {}, "template": {}},
            "status": {"replicas": replicas, "readyReplicas": ready, "updatedReplicas": updated,
                       "observedGeneration": observed}
        }))
        .unwrap()
    }

    fn pod(component: &str, restarts: &[i32]) -> Pod {
        let statuses: Vec<_> = restarts
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"name": format!("c{i}"), "image": "x", "imageID": "", "ready": true, "restartCount": r}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": {LABEL_COMPONENT: component}},
            "status": {"containerStatuses": statuses}
        }))
        .unwrap()
    }

    fn job(conditions: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "kapture-kafka-topics", "labels": {LABEL_COMPONENT: "kafka-topics"}},
            "spec": {"template": {}},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn ready_needs_every_replica_ready_and_up_to_date() {
        let observed = Observed {
            statefulsets: vec![
                sts("kafka-broker", 3, 3, 3, 2, 2),
                sts("kafka-controller", 3, 2, 3, 1, 1),
                sts("redis", 1, 1, 1, 3, 2), // spec changed, controller has not caught up
                sts("postgres", 0, 0, 0, 1, 1),
            ],
            ..Default::default()
        };
        let report = report("ctx", "ns", &observed, at(1000 + 300));
        let state = |c: &str| {
            report
                .components
                .iter()
                .find(|r| r.component == c)
                .unwrap()
                .state
        };
        assert_eq!(state("kafka-broker"), State::Ready);
        assert_eq!(state("kafka-controller"), State::Progressing);
        assert_eq!(state("redis"), State::Progressing);
        assert_eq!(state("postgres"), State::ScaledDown);
        assert_eq!(
            report.summary,
            Summary {
                deployed: true,
                components: 4,
                ready: 2,
                restarts: 0
            }
        );
        assert_eq!(report.components[0].age_seconds, 300);
    }

    #[test]
    fn restarts_are_summed_per_component_over_pods_and_containers() {
        let observed = Observed {
            statefulsets: vec![sts("kafka-broker", 2, 2, 2, 1, 1)],
            pods: vec![
                pod("kafka-broker", &[1, 2]),
                pod("kafka-broker", &[3]),
                pod("redis", &[9]),
            ],
            ..Default::default()
        };
        let report = report("ctx", "ns", &observed, at(2000));
        assert_eq!(report.components[0].restarts, 6);
        assert_eq!(
            report.summary.restarts, 6,
            "pods of components without a workload row do not count"
        );
    }

    /// A pod of `component` named `name`, Ready or waiting for `reason`.
    fn pod_in(component: &str, name: &str, waiting: Option<&str>) -> Pod {
        let (ready, state) = match waiting {
            None => ("True", json!({"running": {}})),
            Some(reason) => ("False", json!({"waiting": {"reason": reason}})),
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {LABEL_COMPONENT: component}},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": ready}],
                "containerStatuses": [{"name": "c", "image": "img:1", "imageID": "",
                    "ready": ready == "True", "restartCount": 0, "state": state}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_component_whose_every_pod_is_stuck_is_stuck() {
        let observed = |pods: Vec<Pod>| Observed {
            deployments: vec![serde_json::from_value(json!({
                "metadata": {"name": "kapture-order-service", "generation": 1,
                             "labels": {LABEL_COMPONENT: "order-service"}},
                "spec": {"replicas": 2, "selector": {}, "template": {}},
                "status": {"observedGeneration": 1, "updatedReplicas": 2, "readyReplicas": 0}
            }))
            .unwrap()],
            pods,
            ..Default::default()
        };
        let one = |pods| report("c", "n", &observed(pods), at(0)).components[0].clone();
        let stuck = one(vec![
            pod_in("order-service", "a", Some("ImagePullBackOff")),
            pod_in("order-service", "b", Some("ErrImagePull")),
        ]);
        assert_eq!(stuck.state, State::Stuck);
        assert_eq!(stuck.problems.len(), 2);
        assert!(stuck.state.is_hopeless());
        let starting = one(vec![
            pod_in("order-service", "a", Some("ImagePullBackOff")),
            pod_in("order-service", "b", Some("ContainerCreating")),
        ]);
        assert_eq!(
            starting.state,
            State::Progressing,
            "one pod may still come up"
        );
        assert_eq!(starting.problems[1].reason, "ContainerCreating");
        let half = one(vec![
            pod_in("order-service", "a", Some("ImagePullBackOff")),
            pod_in("order-service", "b", None),
        ]);
        assert_eq!(half.state, State::Progressing);
        assert_eq!(half.problems.len(), 1, "the ready pod has nothing to say");
        assert_eq!(one(vec![]).state, State::Progressing, "no pods yet");
    }

    #[test]
    fn jobs_are_complete_failed_or_progressing() {
        let complete = job(json!([{"type": "Complete", "status": "True"}]));
        let failed = job(json!([{"type": "Failed", "status": "True"}]));
        let running = job(json!([]));
        for (job, expected) in [
            (complete, State::Complete),
            (failed, State::Failed),
            (running, State::Progressing),
        ] {
            let report = report(
                "c",
                "n",
                &Observed {
                    jobs: vec![job],
                    ..Default::default()
                },
                at(0),
            );
            assert_eq!(report.components[0].state, expected);
        }
    }

    #[test]
    fn nothing_listed_means_not_deployed() {
        let report = report("c", "n", &Observed::default(), at(0));
        assert!(!report.summary.deployed);
        assert!(report.components.is_empty());
    }

    #[test]
    fn rows_are_sorted_and_serialised_with_stable_names() {
        let observed = Observed {
            statefulsets: vec![
                sts("redis", 1, 1, 1, 1, 1),
                sts("kafka-broker", 3, 1, 3, 1, 1),
            ],
            ..Default::default()
        };
        let report = report("kind-kind", "kapture", &observed, at(1000 + 7200));
        assert_eq!(report.components[0].component, "kafka-broker");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["components"][0]["state"], "Progressing");
        assert_eq!(json["components"][0]["age_seconds"], 7200);
        assert_eq!(json["summary"]["ready"], 1);
    }
}
