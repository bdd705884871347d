//! One module per subcommand; `run` dispatches.
use anyhow::Result;

use crate::cli::{Cli, Command};

pub mod scale;
pub mod topics;

pub async fn run(cli: Cli) -> Result<()> {
    let Cli { global, command } = cli;
    match command {
        Command::Scale(args) => scale::run(&global, &args).await,
        Command::Topics(args) => topics::run(&global, &args).await,
        _ => anyhow::bail!("not yet"),
    }
}
