//! One module per subcommand; `run` dispatches.
use anyhow::Result;

use crate::cli::{Cli, Command};

pub mod chaos;
pub mod delete;
pub mod deploy;
pub mod status;

pub async fn run(cli: Cli) -> Result<()> {
    let Cli { global, command } = cli;
    match command {
        Command::Deploy(args) => deploy::run(&global, args).await,
        Command::Status(args) => status::run(&global, args).await,
        Command::Delete(args) => delete::run(&global, args).await,
        Command::Chaos(args) => chaos::run(&global, args).await,
        Command::Scale(_) | Command::Topics(_) => {
            anyhow::bail!("this command is not available in this build")
        }
    }
}
