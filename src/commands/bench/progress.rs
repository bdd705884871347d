//! Progress of a step on stderr: on a terminal a bar over the measured time with the live
//! throughput, as kubectl's own waits show; elsewhere nothing but one line when it ends.
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::{millis, rate, Step, Target};

pub struct StepProgress {
    bar: Option<ProgressBar>,
}

impl StepProgress {
    pub fn start(number: u32, of: usize, target: Target, measured: Duration) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style =
                ProgressStyle::with_template("{prefix} [{bar:24}] {pos:>3}/{len}s {wide_msg}")
                    .expect("a valid progress template")
                    .progress_chars("=> ");
            let bar = ProgressBar::new(measured.as_secs().max(1))
                .with_style(style)
                .with_prefix(format!("step {number}/{of} {}", target.label()));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        StepProgress { bar }
    }

    /// What the step is doing before it measures: `rolling out: 1/2 pods updated ...`.
    pub fn phase(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_string());
        }
    }

    /// The figures so far, `into` the measured time.
    pub fn measured(&self, into: Duration, live: &Step) {
        if let Some(bar) = &self.bar {
            bar.set_position(into.as_secs());
            let or_dash = |v: Option<f64>, show: fn(f64) -> String| v.map_or("-".into(), show);
            bar.set_message(format!(
                "{}/s acknowledged of {}/s, p99 {}",
                or_dash(live.acknowledged_per_second, rate),
                rate(live.offered_per_second),
                or_dash(live.latency.p99_seconds, millis)
            ));
        }
    }

    /// Ends the bar and prints the step's one line.
    pub fn finish(self, line: &str) {
        drop(self);
        eprintln!("{line}");
    }
}

impl Drop for StepProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
