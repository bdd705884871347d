//! One module per subcommand; `run` dispatches.
use anyhow::Result;

use crate::cli::{Cli, Command};

pub mod bench;
pub mod chaos;
pub mod delete;
pub mod deploy;
pub mod scale;
pub mod status;
pub mod topics;
pub mod verify;

pub async fn run(cli: Cli) -> Result<()> {
    let Cli { global, command } = cli;
    match command {
        Command::Deploy(args) => deploy::run(&global, args).await,
        Command::Status(args) => status::run(&global, args).await,
        Command::Delete(args) => delete::run(&global, args).await,
        Command::Chaos(args) => chaos::run(&global, args).await,
        Command::Scale(args) => scale::run(&global, &args).await,
        Command::Topics(args) => topics::run(&global, &args).await,
        Command::Verify(args) => verify::run(&global, &args).await,
        Command::Bench(args) => bench::run(&global, args).await,
    }
}
