//! One module per subcommand; `run` dispatches.
use anyhow::Result;

use crate::cli::{Cli, Command};

pub async fn run(cli: Cli) -> Result<()> {
    let Cli { global, command } = cli;
    let _ = global;
    match command {
        _ => anyhow::bail!("not yet"),
    }
}
