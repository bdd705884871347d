//! How a chaos run is shown: the plan of a dry run, and the report with its impact section.
use std::time::Duration;

use crate::chaos::{Plan, Recovery, Report};
use crate::impact::{Figure, Impact};
use crate::output::Tabular;

/// Seconds as shown in tables: `1.2s`.
fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |s| format!("{s:.1}s"))
}

fn clock(rfc3339: &str) -> String {
    // "2026-11-25T11:40:03.123Z" -> "11:40:03"
    rfc3339
        .split_once('T')
        .map(|(_, t)| t.chars().take(8).collect())
        .unwrap_or_else(|| rfc3339.to_string())
}

impl Tabular for Report {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "ROUND",
            "TIME",
            "COMPONENT",
            "POD",
            "METHOD",
            "OUTCOME",
            "RECOVERY",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.actions
            .iter()
            .map(|a| {
                let recovery = match a.recovery {
                    Recovery::Recovered => seconds(a.recovery_seconds),
                    Recovery::NotRecovered => "not recovered".into(),
                    Recovery::NotWaited => "-".into(),
                };
                vec![
                    a.round.to_string(),
                    clock(&a.time),
                    a.component.clone(),
                    a.pod.clone(),
                    a.method.as_str().into(),
                    a.outcome.label(),
                    recovery,
                ]
            })
            .collect()
    }

    fn footer(&self) -> Vec<String> {
        let mut lines = vec![String::new()];
        for round in &self.rounds {
            let parts: Vec<String> = round
                .measurements
                .iter()
                .map(|m| format!("{} {} {} -> {}", m.component, m.metric, m.before, m.after))
                .collect();
            lines.push(format!(
                "round {} ({}): {}",
                round.round,
                clock(&round.started),
                parts.join("; ")
            ));
        }
        let s = &self.summary;
        lines.push(format!(
            "{} actions: {} removed, {} blocked, {} other; {} recovered, {} not recovered; recovery worst {}, median {}",
            s.actions,
            s.removed,
            s.blocked,
            s.other,
            s.recovered,
            s.not_recovered,
            seconds(s.worst_recovery_seconds),
            seconds(s.median_recovery_seconds)
        ));
        lines.push(format!(
            "seed {} (pass --seed {} to choose the same victims)",
            self.seed, self.seed
        ));
        if self.interrupted {
            lines.push("interrupted by Ctrl-C".into());
        }
        if let Some(impact) = &self.impact {
            lines.extend(impact_lines(impact));
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines
    }
}

/// The impact section under the report's table.
fn impact_lines(impact: &Impact) -> Vec<String> {
    let mut lines = vec![format!("impact ({} samples):", impact.samples)];
    for w in &impact.windows {
        let short = |f: &Figure| match f.value {
            Some(v) => format!("{v:.1}/s"),
            None => "no data".into(),
        };
        let errors = match w.order_service_error_rate.value {
            Some(r) => format!("{:.2}%", r * 100.0),
            None => "no data".into(),
        };
        let mongo = w
            .sink_mongo_consumed_per_second
            .as_ref()
            .map(|f| format!(", sink-mongo {}", short(f)))
            .unwrap_or_default();
        lines.push(format!(
            "  {:<6} {:>5.1}s  order-service {}, router {}, sink-postgres {}, sink-redis {}{mongo}; order-service errors {}",
            w.window.as_str(),
            w.seconds,
            short(&w.order_service_produced_per_second),
            short(&w.router_produced_per_second),
            short(&w.sink_postgres_consumed_per_second),
            short(&w.sink_redis_consumed_per_second),
            errors
        ));
    }
    let peaks: Vec<String> = impact
        .lag_peaks
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l.role,
                l.peak.value.map_or("no data".into(), |v| format!("{v:.0}"))
            )
        })
        .collect();
    lines.push(format!("  consumer lag peak: {}", peaks.join(", ")));
    lines.push(format!("  integrity: {}", impact.integrity.verdict));
    lines.extend(impact.notes.iter().map(|n| format!("  no data: {n}")));
    lines
}

impl Tabular for Plan {
    fn header(&self) -> Vec<&'static str> {
        vec!["COMPONENT", "POD", "METHOD", "KAPTURE", "READY", "AGE"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.victims
            .iter()
            .map(|v| {
                vec![
                    v.component.clone(),
                    v.pod.clone(),
                    v.method.as_str().into(),
                    if v.kapture { "yes" } else { "NO" }.into(),
                    v.ready.to_string(),
                    v.age_seconds
                        .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect()
    }

    fn footer(&self) -> Vec<String> {
        let rounds = self.round_offsets_seconds.len();
        let mut lines = vec![
            String::new(),
            format!(
                "context {}, namespace {}, seed {}, {} round(s){}",
                self.context,
                self.namespace,
                self.seed,
                rounds,
                if rounds > 1 {
                    " (victims of later rounds are chosen when each round starts)"
                } else {
                    ""
                }
            ),
        ];
        if self.victims.iter().any(|v| !v.kapture) {
            lines.push(
                "warning: pods marked KAPTURE NO are not Kapture's; they match --selector".into(),
            );
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines.push("dry run: nothing was changed".into());
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Component;
    use crate::impact::{analyze, Bounds, PodSample, Sample, Values};

    const BOUNDS: Bounds = Bounds {
        disruption_start: 2.0,
        disruption_end: 4.0,
        end: 6.0,
    };

    fn sample(at: f64, produced: f64, consumed: f64, failed: f64) -> Sample {
        let values = Values {
            produced,
            consumed,
            failed,
            ..Values::default()
        };
        Sample {
            at,
            pods: vec![PodSample {
                role: Component::OrderService,
                pod: "o".into(),
                values: Ok(values),
            }],
            ..Sample::default()
        }
    }

    #[test]
    fn table_lines_show_rates_errors_and_reasons() {
        let s = vec![sample(0.0, 0.0, 10.0, 1.0), sample(2.0, 20.0, 30.0, 3.0)];
        let lines = impact_lines(&analyze(&s, &BOUNDS));
        assert_eq!(lines[0], "impact (2 samples):");
        assert!(
            lines[1].starts_with("  before   2.0s  order-service 10.0/s, router no data"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].ends_with("order-service errors 10.00%"),
            "{}",
            lines[1]
        );
        assert!(lines
            .iter()
            .any(|l| l.starts_with("  consumer lag peak: router no data")));
        assert!(lines.iter().any(|l| l.starts_with("  integrity: unknown")));
        assert!(lines
            .iter()
            .any(|l| l == "  no data: router: fewer than two scrapes in this window"));
    }
}
