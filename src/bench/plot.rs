//! The bench's charts as SVG text, drawn with plotters' SVG backend (pure: no file is written
//! here). Every chart has the offered load on x, so runs with other step plans overlay.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::compare::Comparison;
use super::{Report, Step};

/// One line of a chart, with a dot per point.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What a chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// A point singled out with a triangle and its label (the sustainable step).
    pub marked: Option<(String, (f64, f64))>,
    /// A horizontal dashed line and its label (the SLO).
    pub threshold: Option<(String, f64)>,
}

const SIZE: (u32, u32) = (860, 500);

/// Colour-blind-safe (Okabe-Ito), in series order.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The axis range of some values, never empty, starting at 0 for y.
fn span(values: impl Iterator<Item = f64>, from_zero: bool) -> std::ops::Range<f64> {
    let (mut low, mut high) =
        values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        (low, high) = (0.0, 1.0);
    }
    if from_zero {
        low = low.min(0.0);
    }
    let pad = ((high - low) * 0.08).max(high.abs() * 0.05).max(1e-9);
    (if from_zero { low } else { low - pad })..high + pad
}

/// Renders a chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String, String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, chart).map_err(|e| format!("drawing {:?}: {e}", chart.title))?;
        root.present()
            .map_err(|e| format!("drawing {:?}: {e}", chart.title))?;
    }
    Ok(text)
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let points = || chart.series.iter().flat_map(|s| s.points.iter().copied());
    let x = span(points().map(|p| p.0), false);
    let y = span(
        points()
            .map(|p| p.1)
            .chain(chart.threshold.iter().map(|t| t.1)),
        true,
    );
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x.clone(), y)?;
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(242, 242, 242))
        .draw()?;
    for (i, series) in chart.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        ctx.draw_series(
            LineSeries::new(series.points.iter().copied(), colour.stroke_width(2)).point_size(4),
        )?
        .label(&series.name)
        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], colour.filled()));
    }
    if let Some((label, value)) = &chart.threshold {
        ctx.draw_series(DashedLineSeries::new(
            [(x.start, *value), (x.end, *value)],
            8,
            6,
            BLACK.stroke_width(1),
        ))?
        .label(label)
        .legend(|(x, y)| Rectangle::new([(x, y - 1), (x + 16, y + 1)], BLACK.filled()));
    }
    if let Some((label, point)) = &chart.marked {
        let font = ("sans-serif", 15).into_font().color(&BLACK);
        ctx.draw_series([EmptyElement::at(*point)
            + TriangleMarker::new((0, 0), 9, BLACK.filled())
            + Text::new(label.clone(), (12, 4), font)])?;
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The points of the steps that have a figure.
fn per_step(steps: &[Step], figure: impl Fn(&Step) -> Option<f64>) -> Vec<(f64, f64)> {
    steps
        .iter()
        .filter_map(|s| Some((s.offered_per_second, figure(s)?)))
        .collect()
}

const OFFERED: &str = "offered load (transactions/s)";

/// Offered and acknowledged per step, the sustainable step marked.
pub fn throughput(report: &Report) -> Chart {
    Chart {
        title: "Throughput per step".into(),
        x_label: OFFERED.into(),
        y_label: "transactions/s".into(),
        series: vec![
            Series {
                name: "offered".into(),
                points: per_step(&report.steps, |s| Some(s.offered_per_second)),
            },
            Series {
                name: "acknowledged".into(),
                points: per_step(&report.steps, |s| s.acknowledged_per_second),
            },
        ],
        marked: report.sustainable.as_ref().and_then(|s| {
            let at = (s.offered_per_second, s.acknowledged_per_second?);
            Some((format!("sustainable: {:.0}/s", at.1), at))
        }),
        threshold: None,
    }
}

/// The loadgen's p50 and p99 per step, in milliseconds, with the SLO.
pub fn latency(report: &Report) -> Chart {
    let ms = |v: Option<f64>| v.map(|s| s * 1000.0);
    Chart {
        title: "Request latency per step (load generators)".into(),
        x_label: OFFERED.into(),
        y_label: "milliseconds".into(),
        series: vec![
            Series {
                name: "p50".into(),
                points: per_step(&report.steps, |s| ms(s.latency.p50_seconds)),
            },
            Series {
                name: "p99".into(),
                points: per_step(&report.steps, |s| ms(s.latency.p99_seconds)),
            },
        ],
        marked: None,
        threshold: Some((
            format!(
                "SLO p99 {:.0} ms",
                report.parameters.rules.slo_p99_seconds * 1000.0
            ),
            report.parameters.rules.slo_p99_seconds * 1000.0,
        )),
    }
}

/// Each consumer's peak lag per step.
pub fn lag(report: &Report) -> Chart {
    let mut roles: Vec<&str> = report
        .steps
        .iter()
        .flat_map(|s| s.lag.iter().map(|l| l.role.as_str()))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    Chart {
        title: "Consumer lag per step (peak)".into(),
        x_label: OFFERED.into(),
        y_label: "messages behind".into(),
        series: roles
            .iter()
            .map(|role| Series {
                name: role.to_string(),
                points: per_step(&report.steps, |s| {
                    s.lag.iter().find(|l| l.role == *role).map(|l| l.peak)
                }),
            })
            .collect(),
        marked: None,
        threshold: None,
    }
}

/// Acknowledged against offered for every compared run.
pub fn compare_throughput(comparison: &Comparison, reports: &[Report]) -> Chart {
    Chart {
        title: "Acknowledged throughput, run by run".into(),
        x_label: OFFERED.into(),
        y_label: "transactions/s acknowledged".into(),
        series: comparison
            .runs
            .iter()
            .zip(reports)
            .map(|(run, report)| Series {
                name: run.label.clone(),
                points: per_step(&report.steps, |s| s.acknowledged_per_second),
            })
            .collect(),
        marked: None,
        threshold: None,
    }
}

/// The p99 of every compared run.
pub fn compare_latency(comparison: &Comparison, reports: &[Report]) -> Chart {
    Chart {
        title: "p99 request latency, run by run".into(),
        x_label: OFFERED.into(),
        y_label: "milliseconds".into(),
        series: comparison
            .runs
            .iter()
            .zip(reports)
            .map(|(run, report)| Series {
                name: run.label.clone(),
                points: per_step(&report.steps, |s| s.latency.p99_seconds.map(|p| p * 1000.0)),
            })
            .collect(),
        marked: None,
        threshold: None,
    }
}
