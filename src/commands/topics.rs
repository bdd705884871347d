//! `kubectl kapture topics`: list topics, grow partition counts.
use std::collections::BTreeMap;

use anyhow::Result;

use crate::cli::topics::{AlterArgs, TopicsArgs, TopicsCommand};
use crate::cli::GlobalArgs;
use crate::error::KaptureError;
use crate::kafka::admin::Admin;
use crate::kafka::endpoint::Endpoint;
use crate::kafka::plan::{plan, Broker, PlanRequest};
use crate::kafka::view::{topics_view, PlanView};
use crate::output;
use crate::prompt::confirm;

pub async fn run(global: &GlobalArgs, args: &TopicsArgs) -> Result<()> {
    // The cluster is only needed to port-forward.
    let endpoint = match &args.kafka.bootstrap_server {
        Some(address) => Endpoint::Direct(address.clone()),
        None => Endpoint::forward(&crate::k8s::connect(&global.cluster()).await?).await?,
    };
    let admin = Admin::new(&endpoint.address())?;
    match &args.command {
        None => output::print(
            global.output,
            &topics_view(&admin.cluster().await?, args.internal),
        ),
        Some(TopicsCommand::Alter(alter)) => {
            run_alter(global, &admin, &endpoint.address(), alter).await
        }
    }
}

async fn run_alter(
    global: &GlobalArgs,
    admin: &Admin,
    address: &str,
    args: &AlterArgs,
) -> Result<()> {
    let cluster = admin.cluster().await?;
    let current = cluster.topic(&args.name)?.partitions.len();
    let wanted = args.partitions as usize;
    if wanted == current {
        eprintln!(
            "topic {:?} already has {current} partitions: nothing to do",
            args.name
        );
        return Ok(());
    }
    let request = PlanRequest {
        current: cluster.assignment(Some(std::slice::from_ref(&args.name))),
        brokers: cluster.broker_ids().into_iter().map(Broker::new).collect(),
        partitions: BTreeMap::from([(args.name.clone(), wanted)]),
        rebalance: false,
    };
    let plan = plan(&request).map_err(|e| KaptureError::InvalidInput(e.to_string()))?;
    let step = format!(
        "grow topic {:?} from {current} to {wanted} partitions",
        args.name
    );
    output::print(
        global.output,
        &PlanView::new(vec![step.clone()], plan.clone()),
    )?;
    if args.dry_run {
        eprintln!("dry run: nothing changed");
        return Ok(());
    }
    confirm(
        &format!("{}? Keyed records map to partitions by count, so keys move to new partitions. (Kafka at {address})", capitalise(&step)),
        global.yes,
    )?;
    for grow in &plan.new_partitions {
        admin
            .create_partitions(&grow.topic, grow.to, &grow.replicas)
            .await?;
    }
    eprintln!("topic {:?} now has {wanted} partitions", args.name);
    Ok(())
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
