//! kapture-worker: the workload roles. Parse, init logging, dispatch.
use clap::Parser;
use kapture_worker::cli::{Role, WorkerCli};
use kapture_worker::shutdown::Shutdown;
use kapture_worker::{
    create_topics, loadgen, order_service, router, sink_mongo, sink_postgres, sink_redis,
    verify_run,
};

/// Exit code when verification finds lost or duplicated transactions.
const EXIT_INTEGRITY: i32 = 1;
/// Exit code for errors (bad configuration, unreachable service, ...).
const EXIT_ERROR: i32 = 2;

fn main() {
    let cli = WorkerCli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(kapture::output::stderr_colour())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|e| {
                eprintln!("error: invalid --log filter {:?}: {e}", cli.log);
                std::process::exit(EXIT_ERROR)
            }),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async move {
        let served = match cli.role {
            Role::Verify(args) => return verify_run::run(args).await.map(|r| r.ok),
            Role::CreateTopics(args) => create_topics::run(args).await,
            Role::Loadgen(a) => loadgen::run(a, Shutdown::on_signals()).await,
            Role::OrderService(a) => order_service::run(a, Shutdown::on_signals()).await,
            Role::Router(a) => router::run(a, Shutdown::on_signals()).await,
            Role::SinkPostgres(a) => sink_postgres::run(a, Shutdown::on_signals()).await,
            Role::SinkRedis(a) => sink_redis::run(a, Shutdown::on_signals()).await,
            Role::SinkMongo(a) => sink_mongo::run(a, Shutdown::on_signals()).await,
        };
        served.map(|()| true)
    });
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(EXIT_INTEGRITY),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(EXIT_ERROR);
        }
    }
}
