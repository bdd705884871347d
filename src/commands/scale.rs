//! `kubectl kapture scale kafka`: change the broker count and keep topics spread over it.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::cli::scale::{ScaleArgs, ScaleKafkaArgs, ScaleTarget};
use crate::cli::GlobalArgs;
use crate::component::Component;
use crate::error::KaptureError;
use crate::k8s::statefulset::StatefulSets;
use crate::k8s::wait::{ticks, TimedOut, Wait};
use crate::kafka::admin::{Admin, ClusterState};
use crate::kafka::endpoint::Endpoint;
use crate::kafka::plan::{
    broker_ordinals, leaving_brokers, partition_targets, plan, predict_broker_ids, Broker,
    BrokerId, Move, Plan, PlanRequest,
};
use crate::kafka::reassign::{broker_racks, Reassigner};
use crate::kafka::view::PlanView;
use crate::output;
use crate::prompt::confirm;

const POLL: Duration = Duration::from_secs(2);

pub async fn run(global: &GlobalArgs, args: &ScaleArgs) -> Result<()> {
    let ScaleTarget::Kafka(args) = &args.target;
    let statefulset = &Component::KafkaBroker.object_name();
    let cluster = crate::k8s::connect(&global.cluster()).await?;
    crate::k8s::workloads::refuse_external_kafka(&cluster, "scale kafka").await?;
    let sets = StatefulSets::new(&cluster);
    let current = sets.replicas(statefulset).await?;
    let wanted = i32::from(args.brokers);
    let mut endpoint = Endpoint::open(args.kafka.bootstrap_server.as_deref(), &cluster).await?;
    let address = endpoint.address();
    let address = address.as_str();
    let admin = Admin::new(address)?;
    let state = admin.cluster().await?;

    let hosts: Vec<(BrokerId, String)> = state
        .brokers
        .iter()
        .map(|b| (b.id, b.host.clone()))
        .collect();
    let ordinals = broker_ordinals(statefulset, &hosts);
    let targets = predict_broker_ids(&ordinals, wanted as usize);
    let (leaving, hosted) = leaving_brokers(&ordinals, wanted as usize, &state.assignment(None));
    if hosted > 0 && !args.drain {
        return Err(KaptureError::InvalidInput(format!(
            "broker(s) {} (pods {}) still host {hosted} replica(s): pass --drain to move them to the remaining brokers first",
            join(&leaving),
            leaving.iter().map(|id| format!("{statefulset}-{}", ordinals[id])).collect::<Vec<_>>().join(", ")
        ))
        .into());
    }

    let racks = broker_racks(address).await?;
    let plan = make_plan(&state, &targets, &racks, args)?;
    let steps = describe(
        statefulset,
        current,
        wanted,
        &targets,
        &leaving,
        &plan,
        args,
    );
    output::print(global.output, &PlanView::new(steps, plan.clone()))?;
    if args.dry_run {
        eprintln!("dry run: nothing changed");
        return Ok(());
    }
    if wanted == current && plan.is_empty() {
        eprintln!(
            "Kafka already has {current} broker(s) and its topics need no change: nothing to do"
        );
        return Ok(());
    }
    // Fail before changing anything when the brokers cannot move replicas. The connection
    // is not kept: waiting for new brokers can outlast the brokers' idle-connection limit.
    if !plan.moves.is_empty() {
        Reassigner::connect(address).await?;
    }
    confirm(
        &format!(
            "Scale Kafka ({statefulset}) in namespace {:?} of context {:?} from {current} to {wanted} broker(s), \
             copying {} replica(s)?",
            cluster.namespace,
            cluster.context,
            plan.replica_moves()
        ),
        global.yes,
    )?;

    if wanted > current {
        sets.scale(statefulset, wanted).await?;
        eprintln!("scaled StatefulSet {statefulset} to {wanted} replicas");
        sets.wait_ready(statefulset, wanted, args.timeout).await?;
        eprintln!("all {wanted} broker pods are Ready");
        if plan.is_empty() {
            return Ok(());
        }
        endpoint.refresh().await?;
        let state = wait_registered(&admin, &targets, args.timeout).await?;
        // The ids were predicted; plan again with the brokers that really joined.
        let racks = broker_racks(address).await?;
        let actual = make_plan(&state, &state.broker_ids(), &racks, args)?;
        if actual.target != plan.target {
            output::print(
                global.output,
                &PlanView::new(
                    vec!["the registered brokers differ from the prediction; revised plan".into()],
                    actual.clone(),
                ),
            )?;
            confirm("Run the revised plan?", global.yes)?;
        }
        execute(&admin, address, &actual, args).await
    } else {
        execute(&admin, address, &plan, args).await?;
        if wanted < current {
            sets.scale(statefulset, wanted).await?;
            eprintln!("scaled StatefulSet {statefulset} to {wanted} replicas");
            sets.wait_removed(statefulset, wanted, args.timeout).await?;
            eprintln!("removed broker pods are gone");
        }
        Ok(())
    }
}

/// Brokers not registered yet have no known rack (None).
fn make_plan(
    state: &ClusterState,
    brokers: &[BrokerId],
    racks: &BTreeMap<BrokerId, Option<String>>,
    args: &ScaleKafkaArgs,
) -> Result<Plan> {
    let current = state.assignment(None);
    let partitions = partition_targets(
        &current,
        brokers.len(),
        args.partitions_per_broker,
        args.partitions,
        &args.topic,
    );
    let request = PlanRequest {
        current,
        brokers: brokers
            .iter()
            .map(|&id| Broker {
                id,
                rack: racks.get(&id).cloned().flatten(),
            })
            .collect(),
        partitions,
        rebalance: !args.no_rebalance,
    };
    plan(&request).map_err(|e| KaptureError::InvalidInput(e.to_string()).into())
}

fn describe(
    statefulset: &str,
    current: i32,
    wanted: i32,
    targets: &[BrokerId],
    leaving: &[BrokerId],
    plan: &Plan,
    args: &ScaleKafkaArgs,
) -> Vec<String> {
    let mut steps = Vec::new();
    let throttle = match args.throttle {
        0 => "unthrottled".to_string(),
        rate => format!("throttled at {}/s", human_bytes(rate)),
    };
    let copies = plan.replica_moves();
    let moving = format!(
        "reassign {} partition(s): copy {copies} replica(s) ({throttle}), {} preferred-leader change(s); wait until done",
        plan.moves.len(),
        plan.leader_changes()
    );
    let grow: Vec<String> = plan
        .new_partitions
        .iter()
        .map(|n| format!("{} {}->{}", n.topic, n.from, n.to))
        .collect();
    if wanted > current {
        let new: Vec<BrokerId> = targets
            .iter()
            .copied()
            .skip(current.max(0) as usize)
            .collect();
        steps.push(format!(
            "scale StatefulSet {statefulset} from {current} to {wanted} replicas; wait until broker(s) {} are Ready{}",
            join(&new),
            if plan.is_empty() { "" } else { " and registered" }
        ));
    }
    if !grow.is_empty() {
        steps.push(format!("grow partitions: {}", grow.join(", ")));
    }
    if !plan.moves.is_empty() {
        steps.push(moving);
    }
    if wanted < current {
        steps.push(format!(
            "scale StatefulSet {statefulset} from {current} to {wanted} replicas (broker(s) {} leave); wait until their pods are gone",
            join(leaving)
        ));
    }
    if steps.is_empty() {
        steps.push("nothing to do".into());
    }
    steps
}

async fn wait_registered(
    admin: &Admin,
    brokers: &[BrokerId],
    timeout: Duration,
) -> Result<ClusterState> {
    let mut wait = Wait::new("brokers to join the cluster metadata", timeout, ticks(POLL));
    loop {
        wait.changed().await?;
        let state = admin.cluster().await?;
        let registered: BTreeSet<BrokerId> = state.broker_ids().into_iter().collect();
        let missing: Vec<BrokerId> = brokers
            .iter()
            .copied()
            .filter(|b| !registered.contains(b))
            .collect();
        if missing.is_empty() {
            return Ok(state);
        }
        wait.waiting(format!(
            "broker(s) {} (registered: {})",
            join(&missing),
            join(&registered.into_iter().collect::<Vec<_>>())
        ));
    }
}

/// New partitions, then the reassignment (throttled), then waiting for it to finish.
async fn execute(admin: &Admin, address: &str, plan: &Plan, args: &ScaleKafkaArgs) -> Result<()> {
    for grow in &plan.new_partitions {
        admin
            .create_partitions(&grow.topic, grow.to, &grow.replicas)
            .await?;
        eprintln!(
            "topic {:?}: {} -> {} partitions",
            grow.topic, grow.from, grow.to
        );
    }
    if plan.moves.is_empty() {
        return Ok(());
    }
    let mut reassigner = Reassigner::connect(address).await?;
    let copying: Vec<Move> = plan.data_moves().cloned().collect();
    let throttled = args.throttle > 0 && !copying.is_empty();
    if throttled {
        reassigner.throttle(&copying, args.throttle).await?;
    }
    reassigner.start(&plan.moves).await?;
    eprintln!("reassignment of {} partition(s) started", plan.moves.len());
    let mut wait = Wait::new("the reassignment", args.timeout, ticks(POLL));
    loop {
        if let Err(e) = wait.changed().await {
            return Err(match e.downcast::<TimedOut>() {
                Ok(timed_out) => anyhow!(
                    "{timed_out}; it continues in the background{}",
                    if throttled {
                        " and the replication throttle stays set until it ends: run the command again to wait"
                    } else {
                        ""
                    }
                ),
                Err(e) => e,
            });
        }
        let running = reassigner.in_progress(&plan.moves).await?;
        if running.is_empty() {
            break;
        }
        wait.waiting(format!(
            "{} of {} partition(s) still moving",
            running.len(),
            plan.moves.len()
        ));
    }
    if throttled {
        reassigner.unthrottle(&copying).await?;
    }
    eprintln!(
        "reassignment complete: {} replica(s) copied, {} preferred leader(s) changed (Kafka moves leadership to \
         preferred leaders on its next leader rebalance)",
        plan.replica_moves(),
        plan.leader_changes()
    );
    Ok(())
}

fn join(ids: &[BrokerId]) -> String {
    ids.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_humans_write_them() {
        assert_eq!(human_bytes(50 * 1024 * 1024), "50 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10), "10 B");
    }
}
