//! Renders results on stdout as a table, JSON or YAML. Field names in JSON/YAML are stable API.
use anyhow::Result;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

/// How results are written: a table for people, JSON or YAML for programs. Both command lines
/// parse it (`-o`), hence the clap derive; it carries no other CLI knowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

/// Something that can be shown as a table as well as serialised.
pub trait Tabular: Serialize {
    fn header(&self) -> Vec<&'static str>;
    fn rows(&self) -> Vec<Vec<String>>;
    /// Lines printed under the table (summaries).
    fn footer(&self) -> Vec<String> {
        Vec::new()
    }
}

pub fn render<T: Tabular>(format: OutputFormat, value: &T) -> Result<String> {
    Ok(match format {
        OutputFormat::Json => serde_json::to_string_pretty(value)? + "\n",
        OutputFormat::Yaml => serde_yaml::to_string(value)?,
        OutputFormat::Table => {
            let mut table = Table::new();
            table
                .load_preset(presets::NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(value.header());
            for row in value.rows() {
                table.add_row(row);
            }
            let mut text = table
                .lines()
                .map(|l| l.trim_end().to_string() + "\n")
                .collect::<String>();
            for line in value.footer() {
                text.push_str(&line);
                text.push('\n');
            }
            text
        }
    })
}

pub fn print<T: Tabular>(format: OutputFormat, value: &T) -> Result<()> {
    write_stdout(&render(format, value)?)
}

/// Writes `text` to stdout. A reader that went away (`status -o json | head -1`) is no error:
/// the process exits 0 quietly, as ripgrep does (`print!` would panic).
pub fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

/// Colour on stderr only on a terminal, and not when NO_COLOR is set to anything (no-color.org).
pub fn stderr_colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
