//! Draws how cost grows, from the CSV `scripts/growth.sh` writes, into one PNG of three
//! panels: ingest rate against concurrent partitions (handler and COPY), close time
//! against stored transactions (log-log: windows to close held constant, and growing),
//! and the handler's peak RSS against partitions with the 50 MB goal.
//!
//! `cargo run --release --manifest-path tools/growth-plot/Cargo.toml -- CSV PNG`
//!
//! Text is drawn with a TTF font read at run time: `GROWTH_PLOT_FONT` or, by default,
//! DejaVu Sans where Debian and Ubuntu install it.
//!
//! CSV lines (`#` lines are comments; for a key given more than once the last wins):
//! - `ingest,case,partitions,events,stored,handler_ms,copy_ms,handler_cpu_us_per_event,postgres_cpu_us_per_event,peak_rss_kb,ratio`
//! - `close_constant,stored,windows,transactions_closed,ms` and `close_growing,...`

use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;

use plotters::prelude::*;
use plotters::style::FontStyle;

const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const RSS_GOAL_MB: f64 = 50.0;

#[derive(Default)]
struct Figures {
    /// partitions -> (handler events/s, COPY rows/s, handler peak RSS MB)
    ingest: BTreeMap<u32, (f64, f64, f64)>,
    /// stored -> (transactions closed, ms)
    constant: BTreeMap<u64, (u64, f64)>,
    growing: BTreeMap<u64, (u64, f64)>,
}

fn parse(text: &str) -> Result<Figures, Box<dyn Error>> {
    let mut figures = Figures::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let bad = || format!("line {}: cannot read {line:?}", i + 1);
        match f[0] {
            "ingest" if f.len() >= 11 => {
                if f[1] != "clean" {
                    continue;
                }
                let partitions: u32 = f[2].parse().map_err(|_| bad())?;
                let events: f64 = f[3].parse().map_err(|_| bad())?;
                let stored: f64 = f[4].parse().map_err(|_| bad())?;
                let handler_ms: f64 = f[5].parse().map_err(|_| bad())?;
                let copy_ms: f64 = f[6].parse().map_err(|_| bad())?;
                let rss_kb: f64 = f[9].parse().map_err(|_| bad())?;
                figures.ingest.insert(
                    partitions,
                    (
                        events / handler_ms * 1e3,
                        stored / copy_ms * 1e3,
                        rss_kb / 1024.0,
                    ),
                );
            }
            series @ ("close_constant" | "close_growing") if f.len() >= 5 => {
                let stored: u64 = f[1].parse().map_err(|_| bad())?;
                let closed: u64 = f[3].parse().map_err(|_| bad())?;
                let ms: f64 = f[4].parse().map_err(|_| bad())?;
                let map = if series == "close_constant" {
                    &mut figures.constant
                } else {
                    &mut figures.growing
                };
                map.insert(stored, (closed, ms));
            }
            _ => return Err(bad().into()),
        }
    }
    Ok(figures)
}

/// Registers the TTF font as `sans-serif`, from `GROWTH_PLOT_FONT` or [`DEFAULT_FONT`].
fn load_font() -> Result<(), Box<dyn Error>> {
    let path = std::env::var("GROWTH_PLOT_FONT").unwrap_or_else(|_| DEFAULT_FONT.to_owned());
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "no font at {path} ({e}): install DejaVu Sans (fonts-dejavu-core) or set \
             GROWTH_PLOT_FONT to a TTF file"
        )
    })?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{path}: not a TTF font"))?;
    Ok(())
}

/// A log-axis range around `values`, out to whole powers of ten.
fn decades(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 1.0..10.0;
    }
    10f64.powf(lo.log10().floor())..10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0))
}

fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
}

fn draw(figures: &Figures, png: &str) -> Result<(), Box<dyn Error>> {
    let root = BitMapBackend::new(png, (1800, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(60);
    title.draw(&Text::new(
        "paymetrics: how cost grows (ingest against partitions, close against stored history, handler memory)",
        (20, 18),
        ("sans-serif", 26).into_font(),
    ))?;
    let panels = body.split_evenly((1, 3));
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    let green = RGBColor(44, 160, 44);
    let max_partitions = figures.ingest.keys().copied().max().unwrap_or(8).max(1);
    let x_max = f64::from(max_partitions) * 1.15;

    // 1. Ingest rate against partitions.
    let rate_max = figures
        .ingest
        .values()
        .map(|v| v.0.max(v.1))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&panels[0])
        .caption(
            "Ingest rate (clean stream, 2 cores)",
            ("sans-serif", 22).into_font(),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5f64..x_max, 0f64..rate_max)?;
    chart
        .configure_mesh()
        .x_desc("concurrent partitions")
        .y_desc("events stored per second")
        .x_labels(max_partitions as usize + 1)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| si(*v))
        .max_light_lines(4)
        .label_style(("sans-serif", 16))
        .draw()?;
    for (name, color, pick) in [
        ("handler over HTTP", blue, 0usize),
        ("COPY of the same rows", orange, 1),
    ] {
        let points: Vec<(f64, f64)> = figures
            .ingest
            .iter()
            .map(|(p, v)| (f64::from(*p), if pick == 0 { v.0 } else { v.1 }))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 5, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;

    // 2. Close time against stored transactions, log-log.
    let stored = figures
        .constant
        .keys()
        .chain(figures.growing.keys())
        .map(|s| *s as f64);
    let x_range = decades(stored);
    let y_range = decades(
        figures
            .constant
            .values()
            .chain(figures.growing.values())
            .map(|v| v.1),
    );
    let mut chart = ChartBuilder::on(&panels[1])
        .caption(
            "Window close time against stored history",
            ("sans-serif", 22).into_font(),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range.clone().log_scale(), y_range.clone().log_scale())?;
    chart
        .configure_mesh()
        .x_desc("transactions stored before the close (log)")
        .y_desc("close time, ms (log)")
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| si(*v))
        .max_light_lines(4)
        .label_style(("sans-serif", 16))
        .draw()?;
    // Linear reference through the first growing point: slope 1 on log-log axes.
    if let Some((&s, &(_, t))) = figures.growing.iter().next() {
        let k = t / s as f64;
        let ends = [x_range.start, x_range.end];
        chart
            .draw_series(DashedLineSeries::new(
                ends.iter().map(|x| (*x, k * x)),
                8,
                6,
                RGBColor(150, 150, 150).stroke_width(2),
            ))?
            .label("linear in stored (reference)")
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 24, y)],
                    RGBColor(150, 150, 150).stroke_width(2),
                )
            });
    }
    for (name, color, series) in [
        ("close everything stored (growing)", green, &figures.growing),
        (
            "close 12 h = 144 windows (constant)",
            blue,
            &figures.constant,
        ),
    ] {
        let points: Vec<(f64, f64)> = series
            .iter()
            .filter(|(s, _)| **s > 0)
            .map(|(s, v)| (*s as f64, v.1))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 5, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;

    // 3. Handler peak RSS against partitions, with the goal.
    let rss_max = figures
        .ingest
        .values()
        .map(|v| v.2)
        .fold(RSS_GOAL_MB, f64::max)
        * 1.25;
    let mut chart = ChartBuilder::on(&panels[2])
        .caption(
            "Handler peak RSS under the ingest bench",
            ("sans-serif", 22).into_font(),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5f64..x_max, 0f64..rss_max)?;
    chart
        .configure_mesh()
        .x_desc("concurrent partitions")
        .y_desc("peak RSS (VmHWM), MB")
        .x_labels(max_partitions as usize + 1)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .max_light_lines(4)
        .label_style(("sans-serif", 16))
        .draw()?;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.5, RSS_GOAL_MB), (x_max, RSS_GOAL_MB)],
            10,
            6,
            RED.stroke_width(2),
        ))?
        .label("goal: 50 MB")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], RED.stroke_width(2)));
    let points: Vec<(f64, f64)> = figures
        .ingest
        .iter()
        .map(|(p, v)| (f64::from(*p), v.2))
        .collect();
    chart
        .draw_series(LineSeries::new(points.clone(), blue.stroke_width(3)))?
        .label("handler")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], blue.stroke_width(3)));
    chart.draw_series(points.iter().map(|p| Circle::new(*p, 5, blue.filled())))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;

    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, png] = args.as_slice() else {
        eprintln!("usage: growth-plot CSV PNG");
        return ExitCode::from(2);
    };
    let run = || -> Result<(), Box<dyn Error>> {
        load_font()?;
        let text = std::fs::read_to_string(csv).map_err(|e| format!("{csv}: {e}"))?;
        let figures = parse(&text)?;
        draw(&figures, png)?;
        Ok(())
    };
    match run() {
        Ok(()) => {
            println!("wrote {png}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("growth-plot: {e}");
            ExitCode::FAILURE
        }
    }
}
