//! Renders results on stdout as a table, JSON or YAML. Field names in JSON/YAML are stable API.
use anyhow::Result;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

use crate::cli::OutputFormat;

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
    print!("{}", render(format, value)?);
    Ok(())
}
