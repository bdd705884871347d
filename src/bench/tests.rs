//! The step logic and the sustainable-point rule on recorded samples.
use super::*;
use crate::impact::{PodSample, Values};

/// The worker's buckets (0.5 ms doubling to ~16 s) holding `count` observations of each
/// latency in `observed`.
fn histogram(observed: &[(f64, f64)]) -> Histogram {
    let mut bounds: Vec<f64> = (0..16).map(|k| 0.0005 * 2f64.powi(k)).collect();
    bounds.push(f64::INFINITY);
    Histogram {
        buckets: bounds
            .into_iter()
            .map(|bound| {
                let below: f64 = observed
                    .iter()
                    .filter(|(latency, _)| *latency <= bound)
                    .map(|(_, count)| count)
                    .sum();
                (bound, below)
            })
            .collect(),
    }
}

/// How a simulated flow behaves during a step.
#[derive(Clone, Copy)]
struct Flow {
    /// Acknowledged per second (loadgen and order service).
    acked: f64,
    /// Failed per second, as the load generator sees it.
    failed: f64,
    /// Share of requests answered slowly, and how slowly (seconds); the rest take 10 ms.
    slow_share: f64,
    slow: f64,
    /// Router lag at `t`.
    lag: fn(f64) -> f64,
}

fn steady(_: f64) -> f64 {
    40.0
}

fn flow(acked: f64) -> Flow {
    Flow {
        acked,
        failed: 0.0,
        slow_share: 0.0,
        slow: 0.0,
        lag: steady,
    }
}

/// A scrape answered at `at`.
fn read(at: f64, values: Values, latency: Histogram) -> Result<Read, String> {
    Ok(Read {
        at,
        scrape: Scrape { values, latency },
    })
}

/// Samples every second from `start` to `start + seconds`, each pod answering at once,
/// counters growing from what 100 s before counted.
fn samples(start: f64, seconds: u32, flow: Flow) -> Vec<Sample<Read>> {
    (0..=seconds)
        .map(|i| {
            let t = f64::from(i);
            let at = start + t;
            let acked = flow.acked * (100.0 + t);
            let failed = flow.failed * (100.0 + t);
            let latency = histogram(&[
                (0.010, acked * (1.0 - flow.slow_share)),
                (flow.slow, acked * flow.slow_share),
            ]);
            let pods = vec![
                PodSample {
                    role: Component::Loadgen,
                    pod: "loadgen-1".into(),
                    values: read(
                        at,
                        Values {
                            produced: acked,
                            failed,
                            ..Values::default()
                        },
                        latency.clone(),
                    ),
                },
                PodSample {
                    role: Component::OrderService,
                    pod: "order-service-1".into(),
                    values: read(
                        at,
                        Values {
                            produced: acked,
                            consumed: acked + failed,
                            failed,
                            ..Values::default()
                        },
                        histogram(&[(0.004, acked)]),
                    ),
                },
                PodSample {
                    role: Component::Router,
                    pod: "router-1".into(),
                    values: read(
                        at,
                        Values {
                            produced: acked,
                            consumed: acked,
                            lag: Some((flow.lag)(t)),
                            ..Values::default()
                        },
                        Histogram::default(),
                    ),
                },
            ];
            Sample {
                at,
                pods,
                missing: BTreeMap::new(),
            }
        })
        .collect()
}

const RULES: Rules = Rules {
    min_acknowledged: 0.98,
    slo_p99_seconds: 0.25,
};

fn target(generators: u32, rate: u32) -> Target {
    Target {
        generators,
        rate_per_generator: rate,
    }
}

fn step(number: u32, target: Target, recorded: &[Sample<Read>], complete: bool) -> Step {
    measure(
        StepInput {
            step: number,
            target,
            samples: recorded,
            usage: &[],
            complete,
        },
        &RULES,
    )
}

fn report(planned: Vec<Target>, steps: Vec<Step>, interrupted: bool) -> Report {
    let mut report = Report {
        kapture_version: "0.1.0".into(),
        label: Some("test".into()),
        context: "ctx".into(),
        namespace: "kapture".into(),
        started: "2026-12-04T10:00:00Z".into(),
        finished: "2026-12-04T10:05:00Z".into(),
        cluster: ClusterInfo::new(Some("v1.20.2".into()), None),
        image: None,
        parameters: Parameters {
            ramp: Ramp {
                first: target(1, 100),
                rate_step: 100,
                generators_step: 0,
                steps: planned.len() as u32,
                max_rate: None,
            },
            rules: RULES,
            step_duration_seconds: 10.0,
            warm_up_seconds: 0.0,
            sample_interval_seconds: 1.0,
            rollout_timeout_seconds: 60.0,
            stop_on_break: false,
            latency_source: LATENCY_SOURCE.into(),
        },
        before: target(1, 100),
        planned,
        steps,
        sustainable: None,
        interrupted,
        stopped_early: None,
        restored: true,
        notes: Vec::new(),
    };
    report.conclude();
    report
}

#[test]
fn the_plan_ramps_the_rate_and_the_generators() {
    let ramp = Ramp {
        first: target(1, 100),
        rate_step: 100,
        generators_step: 0,
        steps: 3,
        max_rate: None,
    };
    assert_eq!(
        plan(&ramp).unwrap(),
        [target(1, 100), target(1, 200), target(1, 300)]
    );
    let both = Ramp {
        generators_step: 1,
        rate_step: 50,
        ..ramp.clone()
    };
    assert_eq!(
        plan(&both).unwrap(),
        [target(1, 100), target(2, 150), target(3, 200)]
    );
    assert_eq!(target(3, 200).offered(), 600.0);
    assert_eq!(target(3, 200).label(), "3 x 200/s");
}

#[test]
fn the_plan_stops_at_max_rate_and_refuses_what_cannot_run() {
    let ramp = Ramp {
        first: target(2, 100),
        rate_step: 100,
        generators_step: 0,
        steps: 10,
        max_rate: Some(700),
    };
    assert_eq!(
        plan(&ramp).unwrap(),
        [target(2, 100), target(2, 200), target(2, 300)]
    );
    let too_much = Ramp {
        max_rate: Some(150),
        ..ramp.clone()
    };
    assert!(plan(&too_much).unwrap_err().contains("--max-rate 150"));
    let crowd = Ramp {
        first: target(900, 1),
        rate_step: 0,
        generators_step: 100,
        steps: 3,
        max_rate: None,
    };
    assert!(plan(&crowd).unwrap_err().contains("1100 load generators"));
    let huge = Ramp {
        first: target(1, u32::MAX),
        rate_step: 1,
        ..ramp
    };
    assert!(plan(&Ramp {
        max_rate: None,
        ..huge
    })
    .is_err());
}

#[test]
fn a_step_that_keeps_up_is_sustainable() {
    let recorded = samples(30.0, 10, flow(200.0));
    let s = step(1, target(2, 100), &recorded, true);
    assert_eq!(s.seconds, 10.0);
    assert!((s.acknowledged_per_second.unwrap() - 200.0).abs() < 1e-9);
    assert!((s.acknowledged_ratio.unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(s.attempted_per_second, Some(200.0));
    assert_eq!(s.error_rate, Some(0.0));
    assert_eq!(s.order_service_acknowledged_per_second, Some(200.0));
    let p99 = s.latency.p99_seconds.unwrap();
    assert!(p99 > 0.008 && p99 <= 0.016, "{p99}");
    assert!(s.order_service_latency.p99_seconds.unwrap() < 0.008);
    assert_eq!(s.latency.observations, 2000.0);
    assert_eq!(s.lag.len(), 1);
    assert!(!s.lag[0].grows, "{:?}", s.lag);
    assert!(s.sustainable, "{:?}", s.reasons);
    assert!(!s.clearly_broken);
    assert_eq!(s.samples.len(), 11);
}

#[test]
fn rates_run_between_each_pods_own_answers() {
    // The first answer of the load generator came 0.7 s late (a new connection through the
    // pod proxy): it counted what it had then.
    let mut recorded = samples(0.0, 5, flow(200.0));
    let late = recorded[0].pods[0].values.as_mut().unwrap();
    late.at = 0.7;
    late.scrape.values.produced += 0.7 * 200.0;
    let s = step(1, target(2, 100), &recorded, true);
    assert!(
        (s.acknowledged_per_second.unwrap() - 200.0).abs() < 1e-9,
        "{s:?}"
    );
    assert_eq!(s.seconds, 5.0);
    // A pod born during the step counts in full, over the time since the step began.
    let mut recorded = samples(0.0, 4, flow(100.0));
    for (i, sample) in recorded.iter_mut().enumerate().skip(2) {
        let t = i as f64;
        sample.pods.push(PodSample {
            role: Component::Loadgen,
            pod: "loadgen-2".into(),
            values: read(
                t,
                Values {
                    produced: 100.0 * t,
                    ..Values::default()
                },
                Histogram::default(),
            ),
        });
    }
    let s = step(1, target(2, 100), &recorded, true);
    assert!(
        (s.acknowledged_per_second.unwrap() - 200.0).abs() < 1e-9,
        "{s:?}"
    );
}

#[test]
fn a_step_that_loses_more_than_two_percent_is_not_sustainable() {
    let mut lossy = flow(194.0);
    lossy.failed = 6.0;
    let recorded = samples(0.0, 10, lossy);
    let s = step(1, target(2, 100), &recorded, true);
    assert!((s.acknowledged_ratio.unwrap() - 0.97).abs() < 1e-9);
    assert_eq!(s.attempted_per_second, Some(200.0));
    assert!((s.error_rate.unwrap() - 0.03).abs() < 1e-9);
    assert!(!s.sustainable);
    assert_eq!(
        s.reasons,
        ["acknowledged 97.0% of the 200/s offered (needs 98.0%)"]
    );
    assert!(!s.clearly_broken, "3% lost is a break, not a clear one");
    // 98% exactly passes.
    let recorded = samples(0.0, 10, flow(196.0));
    assert!(step(1, target(2, 100), &recorded, true).sustainable);
    // Under 96% is a clear break.
    let recorded = samples(0.0, 10, flow(190.0));
    assert!(step(1, target(2, 100), &recorded, true).clearly_broken);
}

#[test]
fn a_step_whose_p99_breaks_the_slo_is_not_sustainable() {
    let mut slow = flow(200.0);
    (slow.slow_share, slow.slow) = (0.02, 0.4);
    let recorded = samples(0.0, 10, slow);
    let s = step(1, target(2, 100), &recorded, true);
    let p99 = s.latency.p99_seconds.unwrap();
    assert!(p99 > 0.256 && p99 <= 0.512, "{p99}");
    assert!(!s.clearly_broken, "p99 under twice the SLO");
    assert!(s.latency.p50_seconds.unwrap() < 0.016);
    assert!(!s.sustainable);
    assert_eq!(s.reasons.len(), 1, "{:?}", s.reasons);
    assert!(
        s.reasons[0].starts_with("p99 ") && s.reasons[0].ends_with("is not under the SLO 250.0 ms"),
        "{}",
        s.reasons[0]
    );
    slow.slow = 0.6;
    let recorded = samples(0.0, 10, slow);
    let s = step(1, target(2, 100), &recorded, true);
    assert!(s.latency.p99_seconds.unwrap() > 0.512);
    assert!(s.clearly_broken, "p99 over twice the SLO");
}

#[test]
fn a_step_whose_lag_grows_is_not_sustainable_and_jitter_is_not_growth() {
    let mut behind = flow(200.0);
    behind.lag = |t| 100.0 * t;
    let recorded = samples(0.0, 10, behind);
    let s = step(1, target(2, 100), &recorded, true);
    let lag = &s.lag[0];
    assert_eq!(
        (lag.role.as_str(), lag.first, lag.last, lag.peak),
        ("router", 0.0, 1000.0, 1000.0)
    );
    assert!((lag.growth - 1000.0).abs() < 1e-6, "{lag:?}");
    // One second of the offered 200/s, more than 2% of 10 s of it (40).
    assert_eq!(lag.allowed, 200.0);
    assert!(lag.grows);
    assert!(!s.sustainable);
    assert_eq!(
        s.reasons,
        ["router lag grew by 1000 messages (steady allows 200)"]
    );
    assert!(!s.clearly_broken);

    let mut jitter = flow(200.0);
    jitter.lag = |t| if (t as u32) % 5 == 0 { 180.0 } else { 20.0 };
    let recorded = samples(0.0, 10, jitter);
    let s = step(1, target(2, 100), &recorded, true);
    assert!(!s.lag[0].grows, "{:?}", s.lag);
    assert!(s.sustainable, "{:?}", s.reasons);
}

#[test]
fn a_step_without_the_generators_figures_says_why() {
    let mut recorded = samples(0.0, 4, flow(200.0));
    for sample in &mut recorded {
        sample.pods.retain(|p| p.role != Component::Loadgen);
        sample
            .missing
            .insert(Component::Loadgen, "no ready pods".into());
    }
    let s = step(1, target(2, 100), &recorded, true);
    assert_eq!(s.acknowledged_per_second, None);
    assert_eq!(s.latency.p99_seconds, None);
    assert!(!s.sustainable);
    assert_eq!(
        s.reasons,
        ["no acknowledged figure: loadgen: no ready pods"]
    );
    // The order service's own figures are still there.
    assert_eq!(s.order_service_acknowledged_per_second, Some(200.0));
}

#[test]
fn the_sustainable_point_is_the_highest_passing_step() {
    let planned = vec![
        target(1, 100),
        target(1, 200),
        target(1, 300),
        target(1, 400),
    ];
    let steps = vec![
        step(1, planned[0], &samples(0.0, 10, flow(100.0)), true),
        step(2, planned[1], &samples(20.0, 10, flow(199.0)), true),
        step(3, planned[2], &samples(40.0, 10, flow(280.0)), true),
        step(4, planned[3], &samples(60.0, 10, flow(300.0)), true),
    ];
    let r = report(planned, steps, false);
    let best = r.sustainable.as_ref().unwrap();
    assert_eq!((best.step, best.offered_per_second), (2, 200.0));
    assert!((best.acknowledged_per_second.unwrap() - 199.0).abs() < 1e-9);
    assert!(
        r.headline().starts_with(
            "sustainable throughput: 199/s acknowledged at step 2 (1 x 200/s, 200/s offered)"
        ),
        "{}",
        r.headline()
    );
    assert!(r.notes.is_empty(), "{:?}", r.notes);

    // A failing step below a passing one is noise worth a note.
    let planned = vec![target(1, 100), target(1, 200), target(1, 300)];
    let steps = vec![
        step(1, planned[0], &samples(0.0, 10, flow(100.0)), true),
        step(2, planned[1], &samples(20.0, 10, flow(150.0)), true),
        step(3, planned[2], &samples(40.0, 10, flow(299.0)), true),
    ];
    let r = report(planned, steps, false);
    assert_eq!(r.sustainable.as_ref().unwrap().step, 3);
    assert!(
        r.notes[0].starts_with("step(s) 2 below the sustainable step 3"),
        "{:?}",
        r.notes
    );
}

#[test]
fn no_step_may_be_sustainable() {
    let planned = vec![target(1, 100), target(1, 200)];
    let steps = vec![
        step(1, planned[0], &samples(0.0, 10, flow(90.0)), true),
        step(2, planned[1], &samples(20.0, 10, flow(100.0)), true),
    ];
    let r = report(planned, steps, false);
    assert_eq!(r.sustainable, None);
    assert_eq!(
        r.headline(),
        "no sustainable step: every measured step broke the rule"
    );
    let table = crate::output::render(crate::output::OutputFormat::Table, &r).unwrap();
    assert!(table.contains("breaks"), "{table}");
    assert!(
        table.contains("step 1: acknowledged 90.0% of the 100/s offered"),
        "{table}"
    );
    assert!(!table.contains("(sustainable)"), "{table}");
    assert!(report(vec![target(1, 1)], vec![], false).headline() == "no step was measured");
}

#[test]
fn ctrl_c_after_two_steps_reports_what_was_measured() {
    let planned = vec![
        target(1, 100),
        target(1, 200),
        target(1, 300),
        target(1, 400),
    ];
    let steps = vec![
        step(1, planned[0], &samples(0.0, 10, flow(100.0)), true),
        step(2, planned[1], &samples(20.0, 10, flow(200.0)), true),
        // Ctrl-C two seconds into step 3: what was sampled is kept, never the verdict.
        step(3, planned[2], &samples(40.0, 2, flow(300.0)), false),
    ];
    let r = report(planned, steps, true);
    assert!(r.interrupted);
    assert_eq!(r.sustainable.as_ref().unwrap().step, 2);
    let cut = &r.steps[2];
    assert!(!cut.sustainable && !cut.complete);
    assert_eq!(cut.reasons, ["cut short by Ctrl-C after 2s"]);
    assert_eq!(cut.acknowledged_per_second, Some(300.0));
    assert_eq!(r.notes, ["interrupted by Ctrl-C: 3 of 4 steps measured"]);
    let table = crate::output::render(crate::output::OutputFormat::Table, &r).unwrap();
    assert!(table.contains("cut short"), "{table}");
    assert!(table.contains("ok (sustainable)"), "{table}");
}

#[test]
fn the_report_reads_back_from_its_json() {
    let planned = vec![target(1, 100)];
    let steps = vec![step(1, planned[0], &samples(0.0, 3, flow(100.0)), true)];
    let r = report(planned, steps, false);
    let text = serde_json::to_string(&r).unwrap();
    // JSON has no infinity (serde writes null): the +Inf bucket is kept as the count.
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    let pod = &back.steps[0].samples[0].pods[0];
    let values = pod.values.as_ref().unwrap();
    assert_eq!(values.latency_buckets.len(), 16);
    assert_eq!(values.latency_count, 10000.0);
    assert!(text.contains("\"acknowledgedPerSecond\""));
}

#[test]
fn cluster_totals_add_the_nodes_up() {
    let node = |cpu, memory| Node {
        name: "n".into(),
        kubelet_version: "v1.20.2".into(),
        allocatable_cpu_cores: Some(cpu),
        allocatable_memory_bytes: Some(memory),
    };
    let info = ClusterInfo::new(None, Some(vec![node(2.0, 8e9), node(4.0, 16e9)]));
    assert_eq!(info.node_count, Some(2));
    assert_eq!(info.allocatable_cpu_cores, Some(6.0));
    assert_eq!(info.allocatable_memory_bytes, Some(24e9));
    assert_eq!(ClusterInfo::new(None, None).node_count, None);
}

fn report_with(sustainable_rate: f64, p99: f64) -> Report {
    let planned = vec![target(1, sustainable_rate as u32)];
    let mut fast = flow(sustainable_rate);
    (fast.slow_share, fast.slow) = (0.05, p99);
    let steps = vec![step(1, planned[0], &samples(0.0, 10, fast), true)];
    report(planned, steps, false)
}

#[test]
fn comparison_gives_the_change_in_percent() {
    let before = report_with(1000.0, 0.03);
    let after = report_with(1200.0, 0.06);
    let p99 = |r: &Report| r.sustainable.as_ref().unwrap().p99_seconds.unwrap();
    let runs = vec![
        (
            "last week".to_string(),
            "a.json".to_string(),
            before.clone(),
        ),
        ("today".to_string(), "b.json".to_string(), after.clone()),
    ];
    let c = compare::compare(&runs);
    assert_eq!(c.runs[0].sustainable_change_percent, Some(0.0));
    let up = c.runs[1].sustainable_change_percent.unwrap();
    assert!((up - 20.0).abs() < 1e-9, "{up}");
    let slower = c.runs[1].p99_change_percent.unwrap();
    let expected = (p99(&after) - p99(&before)) / p99(&before) * 100.0;
    assert!((slower - expected).abs() < 1e-9 && slower > 0.0, "{slower}");
    assert!(compare::regressions(&c, 5.0).is_empty());
    let table = crate::output::render(crate::output::OutputFormat::Table, &c).unwrap();
    assert!(table.contains("+20.0%"), "{table}");

    // The other way round it is a regression of a sixth.
    let reversed = vec![runs[1].clone(), runs[0].clone()];
    let c = compare::compare(&reversed);
    let down = c.runs[1].sustainable_change_percent.unwrap();
    assert!((down + 100.0 / 6.0).abs() < 1e-9, "{down}");
    assert_eq!(
        compare::regressions(&c, 10.0),
        ["last week: sustainable throughput -16.7% against today"]
    );
    assert!(compare::regressions(&c, 20.0).is_empty());
}

#[test]
fn a_run_without_a_sustainable_step_compares_as_none() {
    let good = report_with(1000.0, 0.03);
    let planned = vec![target(1, 100)];
    let broken = report(
        planned.clone(),
        vec![step(1, planned[0], &samples(0.0, 10, flow(50.0)), true)],
        false,
    );
    let c = compare::compare(&[
        ("a".into(), "a.json".into(), good),
        ("b".into(), "b.json".into(), broken),
    ]);
    assert_eq!(c.runs[1].sustainable_per_second, None);
    assert_eq!(c.runs[1].sustainable_change_percent, None);
    assert_eq!(
        compare::regressions(&c, 50.0),
        ["b: no sustainable step, a had 1000/s"]
    );
}

/// The data series of an SVG chart: its polylines in a colour (axes and dashes are black),
/// with their number of points.
fn plotted(svg: &str) -> Vec<(String, usize)> {
    let doc = roxmltree::Document::parse(svg).expect("the chart is XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter(|n| n.attribute("stroke") != Some("#000000"))
        .map(|n| {
            let points = n.attribute("points").unwrap_or_default();
            (
                n.attribute("stroke").unwrap_or_default().to_string(),
                points.split_whitespace().count(),
            )
        })
        .collect()
}

fn three_steps() -> Report {
    let planned = vec![target(1, 100), target(1, 200), target(1, 300)];
    let steps = vec![
        step(1, planned[0], &samples(0.0, 10, flow(100.0)), true),
        step(2, planned[1], &samples(20.0, 10, flow(200.0)), true),
        step(3, planned[2], &samples(40.0, 10, flow(250.0)), true),
    ];
    report(planned, steps, false)
}

#[test]
fn charts_have_a_point_per_measured_step() {
    let r = three_steps();
    let throughput = plot::svg(&plot::throughput(&r)).unwrap();
    let series = plotted(&throughput);
    assert_eq!(series.len(), 2, "{series:?}");
    assert!(series.iter().all(|(_, points)| *points == 3), "{series:?}");
    assert!(throughput.contains("sustainable: 200/s"));
    let latency = plot::svg(&plot::latency(&r)).unwrap();
    assert_eq!(plotted(&latency).len(), 2);
    assert!(latency.contains("SLO p99 250 ms"));
    let lag = plot::svg(&plot::lag(&r)).unwrap();
    assert_eq!(plotted(&lag), [("#0072B2".to_string(), 3)]);
    // A step without a figure has no point.
    let mut r = r;
    r.steps[1].acknowledged_per_second = None;
    let series = plotted(&plot::svg(&plot::throughput(&r)).unwrap());
    assert_eq!(series.iter().map(|s| s.1).collect::<Vec<_>>(), [3, 2]);
}

#[test]
fn the_index_shows_the_table_and_the_charts_and_escapes_text() {
    let mut r = three_steps();
    r.label = Some("<b>friday</b>".into());
    let page = html::bench(&r).unwrap();
    assert!(page.contains("&lt;b&gt;friday&lt;&#x2f;b&gt;"), "{page}");
    assert!(!page.contains("<b>friday"));
    assert!(!page.contains("<script"));
    for image in html::BENCH_IMAGES {
        assert!(
            page.contains(&format!("<img src=\"{}\"", image.0)),
            "{page}"
        );
    }
    assert!(page.contains("<td>ok (sustainable)</td>"), "{page}");
    // minijinja escapes '/' too.
    assert!(page.contains("sustainable throughput: 200&#x2f;s acknowledged at step 2"));
}
