//! The verifier Job of `kubectl kapture verify`, and its verdict read back from the Job's log.
//! Pure.
//!
//! The Job runs `kapture-worker verify` in the namespace with the workload's own image and
//! settings: its container is the Postgres sink's (image, security context, resources, the
//! Postgres password from the Secret) with the other sinks' environment added (Redis's, and
//! Mongo's when it is deployed: its variables are what makes the verifier read Mongo), so a
//! deploy with `--set-image`, `--registry` or `--kafka-bootstrap` is verified with exactly what
//! it runs.
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use kube::core::ObjectMeta;
use kube::ResourceExt;

use crate::manifests::{FIELD_MANAGER, LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_PART_OF, PART_OF};
use crate::verdict::Report;

/// The `app.kubernetes.io/component` of the verifier's Job and pod: not a component of the
/// deployment (nothing selects it), but part of Kapture, so `delete` removes a leftover one.
pub const LABEL_VALUE: &str = "verify";
/// The verifier's container.
pub const CONTAINER: &str = "verify";

/// The Job `name` that verifies the flow of the deployment whose sinks are given: the Postgres
/// sink, then the others. `settle` is how long the verifier waits for the sinks to catch up;
/// `deadline` bounds the whole Job.
pub fn job(
    name: &str,
    sink_postgres: &Deployment,
    other_sinks: &[Deployment],
    settle: Duration,
    deadline: Duration,
) -> Result<Job> {
    let template = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.clone())
            .with_context(|| format!("Deployment {} has no pod template", d.name_any()))
    };
    let first_container = |spec: &PodSpec, d: &Deployment| {
        spec.containers
            .first()
            .cloned()
            .with_context(|| format!("Deployment {} has no container", d.name_any()))
    };
    let mut pod = template(sink_postgres)?;
    let postgres_container = first_container(&pod, sink_postgres)?;
    let mut env = postgres_container.env.clone().unwrap_or_default();
    for sink in other_sinks {
        let container = first_container(&template(sink)?, sink)?;
        for var in container.env.unwrap_or_default() {
            if !env.iter().any(|e| e.name == var.name) {
                env.push(var);
            }
        }
    }
    let container = Container {
        name: CONTAINER.to_string(),
        args: Some(
            [
                "verify",
                "--ack-redis",
                "--settle",
                &humantime::format_duration(settle).to_string(),
                "-o",
                "json",
            ]
            .map(str::to_string)
            .to_vec(),
        ),
        env: Some(env),
        // What serves traffic or is probed is the sink's business, not the verifier's.
        ports: None,
        readiness_probe: None,
        liveness_probe: None,
        startup_probe: None,
        ..postgres_container
    };
    pod.containers = vec![container];
    pod.restart_policy = Some("Never".to_string());

    let labels = [
        (LABEL_PART_OF, PART_OF),
        (LABEL_MANAGED_BY, FIELD_MANAGER),
        (LABEL_COMPONENT, LABEL_VALUE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect::<std::collections::BTreeMap<_, _>>();
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // One verdict: a verifier that failed is not retried behind the user's back.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(
                i64::try_from(deadline.as_secs().max(1)).unwrap_or(i64::MAX),
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    })
}

/// The verdict in a verifier's log. The log holds the container's stderr too (the worker's
/// log lines); the report is the pretty JSON object that starts on a line of its own.
pub fn verdict_from_log(log: &str) -> Result<Report, String> {
    let mut offset = 0;
    for line in log.split_inclusive('\n') {
        if line.trim_end() == "{" {
            let mut values = serde_json::Deserializer::from_str(&log[offset..]).into_iter();
            return match values.next() {
                Some(Ok(report)) => Ok(report),
                Some(Err(e)) => Err(format!("the verifier's report does not parse: {e}")),
                None => Err("the verifier's report is empty".to_string()),
            };
        }
        offset += line.len();
    }
    let tail: Vec<&str> = log.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(if tail.is_empty() {
        "the verifier printed nothing".to_string()
    } else {
        format!(
            "the verifier printed no report; its log ends: {}",
            tail.join(" | ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Component;
    use crate::manifests::{render, RenderParams};
    use serde_json::json;

    fn rendered(component: Component) -> Deployment {
        let params = RenderParams {
            components: Component::ALL.to_vec(),
            ..RenderParams::default()
        };
        let objects = render(&params).expect("render");
        let object = objects
            .into_iter()
            .find(|m| m.kind() == "Deployment" && m.name() == component.object_name())
            .expect("the component's Deployment");
        serde_json::from_value(serde_json::to_value(&object.object).unwrap()).expect("a Deployment")
    }

    fn verifier_of(other_sinks: &[Component]) -> Job {
        let others: Vec<Deployment> = other_sinks.iter().map(|c| rendered(*c)).collect();
        job(
            "kapture-verify-1",
            &rendered(Component::SinkPostgres),
            &others,
            Duration::from_secs(90),
            Duration::from_secs(300),
        )
        .unwrap()
    }

    fn verifier() -> Job {
        verifier_of(&[Component::SinkRedis])
    }

    fn env_names(job: &Job) -> Vec<String> {
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        pod.containers[0]
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }

    #[test]
    fn mongo_is_verified_when_its_sink_is_deployed() {
        use crate::contract::env::{MONGO_PASSWORD, MONGO_URL, MONGO_USER};
        let without = env_names(&verifier());
        assert!(!without.iter().any(|n| n == MONGO_URL), "{without:?}");
        let with = env_names(&verifier_of(&[Component::SinkRedis, Component::SinkMongo]));
        for needed in [MONGO_URL, MONGO_USER, MONGO_PASSWORD] {
            assert!(with.iter().any(|n| n == needed), "{needed} in {with:?}");
        }
        let mut unique = with.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), with.len(), "no variable twice: {with:?}");
    }

    #[test]
    fn the_job_runs_the_sinks_image_with_both_sinks_settings() {
        let job = verifier();
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(300));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let sink = rendered(Component::SinkPostgres);
        let sink_pod = sink.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.security_context, sink_pod.security_context);
        assert_eq!(pod.automount_service_account_token, Some(false));
        let [c] = pod.containers.as_slice() else {
            panic!("one container")
        };
        assert_eq!(c.image, sink_pod.containers[0].image);
        assert_eq!(c.security_context, sink_pod.containers[0].security_context);
        assert!(c.readiness_probe.is_none() && c.liveness_probe.is_none() && c.ports.is_none());
        assert_eq!(
            c.args.as_ref().unwrap(),
            &["verify", "--ack-redis", "--settle", "1m 30s", "-o", "json"]
        );
        let names: Vec<&str> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        for needed in [
            crate::contract::env::POSTGRES_PASSWORD,
            crate::contract::env::POSTGRES_HOST,
            crate::contract::env::REDIS_URL,
            crate::contract::env::KAFKA_BOOTSTRAP,
        ] {
            assert_eq!(
                names.iter().filter(|n| **n == needed).count(),
                1,
                "{needed} in {names:?}"
            );
        }
    }

    #[test]
    fn nothing_of_the_deployment_selects_the_verifier() {
        let job = verifier();
        let labels = job.spec.unwrap().template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels[LABEL_COMPONENT], LABEL_VALUE);
        assert!(Component::from_name(LABEL_VALUE).is_none());
        assert_eq!(labels[LABEL_PART_OF], PART_OF);
    }

    fn report_json(ok: bool) -> String {
        serde_json::to_string_pretty(&json!({
            "acked": 3, "postgres_rows": 3, "lost": 0, "duplicated": 0, "unexpected": 0,
            "duplicate_acks": 0, "duplicate_rows": 0, "redis_overcount": 0,
            "redis_undercount": 0, "aggregates_match": true, "topic_messages_total": null,
            "lost_sample": [], "unexpected_sample": [],
            "states": [{"state": "ma", "postgres": 3, "redis": 3, "topic_messages": null}],
            "ok": ok
        }))
        .unwrap()
    }

    #[test]
    fn the_verdict_is_found_between_log_lines() {
        let log = format!(
            "2026-12-03T09:00:00Z  INFO verify: reading acks\n{}\n2026-12-03T09:00:01Z  WARN late line\n",
            report_json(true)
        );
        let report = verdict_from_log(&log).unwrap();
        assert!(report.ok);
        assert_eq!(report.acked, 3);
        assert_eq!(report.states[0].redis, Some(3));
    }

    #[test]
    fn a_log_without_a_report_says_how_it_ends() {
        let err =
            verdict_from_log("starting\nerror: connecting to Postgres: refused\n").unwrap_err();
        assert!(
            err.ends_with("starting | error: connecting to Postgres: refused"),
            "{err}"
        );
        assert_eq!(
            verdict_from_log("").unwrap_err(),
            "the verifier printed nothing"
        );
        let cut = "{\n  \"acked\": 3,\n";
        assert!(verdict_from_log(cut)
            .unwrap_err()
            .contains("does not parse"));
    }
}
