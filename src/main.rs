use clap::Parser;

fn main() {
    let cli = kapture::cli::Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    if let Err(err) = runtime.block_on(kapture::commands::run(cli)) {
        eprintln!("error: {}", kapture::error::OneLine(&err));
        std::process::exit(kapture::error::exit_code(&err));
    }
}
