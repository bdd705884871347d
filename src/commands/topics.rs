//! `kubectl kapture topics`: list topics, grow partition counts.
use std::collections::BTreeMap;

use anyhow::Result;

use super::scale::BROKER_STATEFULSET;
use crate::cli::topics::{AlterArgs, KafkaArgs, TopicsArgs, TopicsCommand};
use crate::cli::GlobalArgs;
use crate::error::KaptureError;
use crate::k8s::Cluster;
use crate::kafka::admin::Admin;
use crate::kafka::plan::{plan, Broker, PlanRequest};
use crate::kafka::portforward::Forwarder;
use crate::kafka::view::{topics_view, PlanView};
use crate::output;
use crate::prompt::confirm;

/// How the brokers are reached: an address given by the user, or port-forwards through the
/// API server (alive as long as this value lives).
pub(crate) enum Endpoint {
    Direct(String),
    Forwarded(Box<Forwarder>),
}

impl Endpoint {
    /// `--bootstrap-server` when given, else port-forwards to the broker pods of `cluster`.
    pub(crate) async fn open(args: &KafkaArgs, cluster: &Cluster) -> Result<Self> {
        match &args.bootstrap_server {
            Some(address) => Ok(Endpoint::Direct(address.clone())),
            None => Ok(Endpoint::Forwarded(Box::new(
                Forwarder::start(cluster, BROKER_STATEFULSET).await?,
            ))),
        }
    }

    pub(crate) fn address(&self) -> String {
        match self {
            Endpoint::Direct(address) => address.clone(),
            Endpoint::Forwarded(forwarder) => forwarder.bootstrap(),
        }
    }

    /// Forwards brokers that started since (nothing to do for a direct address).
    pub(crate) async fn refresh(&mut self) -> Result<()> {
        match self {
            Endpoint::Direct(_) => Ok(()),
            Endpoint::Forwarded(forwarder) => forwarder.refresh().await,
        }
    }
}

pub async fn run(global: &GlobalArgs, args: &TopicsArgs) -> Result<()> {
    // The cluster is only needed to port-forward.
    let endpoint = match &args.kafka.bootstrap_server {
        Some(address) => Endpoint::Direct(address.clone()),
        None => Endpoint::open(&args.kafka, &crate::k8s::connect(global).await?).await?,
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
