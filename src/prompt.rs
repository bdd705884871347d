//! Confirmation of destructive actions: a prompt on a terminal, `--yes` everywhere else.
use std::io::IsTerminal;

use anyhow::Result;

use crate::error::KaptureError;

/// Asks `question` on a terminal; without one, requires `--yes`. Declining is an error (exit 2).
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(KaptureError::Refused(format!(
            "{question} Refusing without a terminal to ask on: pass --yes to confirm"
        ))
        .into());
    }
    let accepted = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()?;
    if accepted {
        Ok(())
    } else {
        Err(KaptureError::Refused("aborted".to_string()).into())
    }
}
