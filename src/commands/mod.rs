//! One module per subcommand; `run` dispatches.
use anyhow::Result;

use crate::cli::{Cli, Command};

pub mod chaos;

pub async fn run(cli: Cli) -> Result<()> {
    let Cli { global, command } = cli;
    match command {
        Command::Chaos(args) => chaos::run(&global, args).await,
        _ => anyhow::bail!("not yet"),
    }
}
