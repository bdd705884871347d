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
    // Library logs (kube, hyper, rustls) only from -vv: they speak of the transport, per
    // request, and our one-line errors already say what failed. RUST_LOG, when set, wins.
    let libraries = if cli.global.verbose >= 2 {
        level
    } else {
        "off"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{libraries},kapture={level},kubectl_kapture={level}"
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(kapture::output::stderr_colour())
        .with_target(cli.global.verbose >= 2)
        .without_time()
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    if let Err(err) = runtime.block_on(kapture::commands::run(cli)) {
        eprintln!("error: {}", kapture::error::OneLine(&err));
        std::process::exit(kapture::error::exit_code(&err));
    }
}
