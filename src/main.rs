//! `kubectl-kapture`: parse, set up logging on stderr, run, map the outcome to an exit code.
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = kapture::cli::Cli::parse();
    let level = match cli.global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // RUST_LOG, when set, wins over -v so a single module can be traced.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("kapture={level},kubectl_kapture={level},warn"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    if let Err(err) = runtime.block_on(kapture::commands::run(cli)) {
        eprintln!("error: {}", kapture::error::OneLine(&err));
        std::process::exit(kapture::error::exit_code(&err));
    }
}
