//! The dashboard's charts, drawn as SVG on the server with `plotters`: time series,
//! horizontal bars, hourly grouped bars and the merchant scatter. Each returns the
//! `<svg>` element as text, ready to be placed inline in the page.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::store::{ClusterRun, Point};

/// Width and height of a chart, in CSS pixels.
pub const SIZE: (u32, u32) = (640, 260);
const FONT: &str = "sans-serif";

/// Series colours, in order (readable on white, distinct for colour-blind readers).
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];
/// The colour of what needs attention (declines, rejects, outliers).
const ALERT: RGBColor = RGBColor(200, 30, 30);

/// The `i`-th series colour.
pub fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// How a value axis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Counts: 0, 250, 500.
    Count,
    /// Shares from 0 to 1, shown as percentages.
    Percent,
    /// Any number, shown with up to 2 decimals.
    Number,
}

impl Scale {
    /// A value as this axis writes it.
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Count => format!("{value:.0}"),
            Self::Percent => format!("{:.1} %", value * 100.0),
            Self::Number => {
                let text = if value.abs() >= 1000.0 {
                    format!("{value:.0}")
                } else {
                    format!("{value:.2}")
                };
                if text.contains('.') {
                    text.trim_end_matches('0').trim_end_matches('.').to_owned()
                } else {
                    text
                }
            }
        }
    }
}

fn draw(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.to_string()));
        if let Err(e) = drawn {
            tracing::warn!("a dashboard chart could not be drawn: {e}");
        }
    }
    svg
}

fn time_label(span: TimeDelta) -> impl Fn(&DateTime<Utc>) -> String {
    move |t: &DateTime<Utc>| {
        if span > TimeDelta::hours(36) {
            t.format("%m-%d %H:%M").to_string()
        } else {
            t.format("%H:%M").to_string()
        }
    }
}

/// Lines over time, one per series, over `[from, to)`.
pub fn time_series(
    points: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    scale: Scale,
) -> String {
    let mut series: BTreeMap<&str, Vec<(DateTime<Utc>, f64)>> = BTreeMap::new();
    for p in points {
        series
            .entry(p.series.as_str())
            .or_default()
            .push((p.at, p.value));
    }
    let top = match scale {
        Scale::Percent => 1.0,
        // Whole-number ticks even when there is next to nothing to count.
        Scale::Count => points.iter().map(|p| p.value).fold(0.0, f64::max).max(4.0) * 1.1,
        Scale::Number => points.iter().map(|p| p.value).fold(0.0, f64::max).max(1.0) * 1.1,
    };
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(from..to, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&time_label(to - from))
            .y_label_formatter(&|v| scale.format(*v))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, values) in series.values().enumerate() {
            let style = colour(i).stroke_width(2);
            if values.len() > 1 {
                chart
                    .draw_series(LineSeries::new(values.iter().copied(), style))
                    .map_err(|e| e.to_string())?;
            }
            // A line of one point draws nothing (so there is none), and a few points
            // are easier to read marked: short series get a dot at each point.
            if values.len() < MARKED_POINTS {
                chart
                    .draw_series(
                        values
                            .iter()
                            .map(|(at, v)| Circle::new((*at, *v), 3, colour(i).filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

/// Series shorter than this get a dot at each point.
const MARKED_POINTS: usize = 30;

/// The legend of [`time_series`] of `points`: each series' name and colour, in the order
/// the chart gives them colours.
pub fn series_legend(points: &[Point]) -> Vec<(String, RGBColor)> {
    let names: std::collections::BTreeSet<&str> =
        points.iter().map(|p| p.series.as_str()).collect();
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name.to_owned(), colour(i)))
        .collect()
}

/// The legend of [`hourly`].
pub fn hourly_legend(names: &[String]) -> Vec<(String, RGBColor)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), series_colour(n, i)))
        .collect()
}

/// The legend of [`clusters`]: a colour per cluster, and the outliers' ring.
pub fn clusters_legend(run: &ClusterRun) -> Vec<(String, RGBColor)> {
    let mut legend: Vec<(String, RGBColor)> = run
        .centroids
        .iter()
        .map(|c| {
            (
                format!("cluster {} ({} merchants)", c.cluster_id, c.size),
                colour(usize::try_from(c.cluster_id).unwrap_or(0)),
            )
        })
        .collect();
    legend.push(("outlier (ringed)".to_owned(), ALERT));
    legend
}

/// Horizontal bars, one per label, largest first as given; each bar is labelled with
/// its value.
pub fn bars(items: &[(String, f64)], scale: Scale, alert: bool) -> String {
    let top = match scale {
        Scale::Percent => items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(0.01) * 1.25,
        _ => items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0) * 1.25,
    };
    let n = items.len().max(1);
    let colour = if alert { ALERT } else { colour(0) };
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..top, 0.0..n as f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_labels(5)
            .x_label_formatter(&|v| scale.format(*v))
            .y_labels(0)
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (label, value)) in items.iter().enumerate() {
            // The first item on top.
            let y = (n - 1 - i) as f64;
            chart
                .draw_series([Rectangle::new(
                    [(0.0, y + 0.15), (*value, y + 0.85)],
                    colour.filled(),
                )])
                .map_err(|e| e.to_string())?;
            let area = chart.plotting_area();
            let (x0, ym) = area.map_coordinate(&(0.0, y + 0.5));
            let (x1, _) = area.map_coordinate(&(*value, y + 0.5));
            let root = area.strip_coord_spec();
            let offset = root.get_base_pixel();
            let style = TextStyle::from((FONT, 12).into_font())
                .pos(Pos::new(HPos::Right, VPos::Center))
                .color(&BLACK);
            root.draw_text(
                &shorten(label, 22),
                &style,
                (x0 - offset.0 - 6, ym - offset.1),
            )
            .map_err(|e| e.to_string())?;
            let style = TextStyle::from((FONT, 12).into_font())
                .pos(Pos::new(HPos::Left, VPos::Center))
                .color(&BLACK);
            root.draw_text(
                &scale.format(*value),
                &style,
                (x1 - offset.0 + 4, ym - offset.1),
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// One hour's bars: its start and a value per series name.
pub type HourBars = (DateTime<Utc>, Vec<(String, f64)>);

/// Grouped bars per hour: one bar per series (accepted, duplicates, rejected by reason),
/// side by side.
pub fn hourly(hours: &[HourBars], names: &[String]) -> String {
    let top = hours
        .iter()
        .flat_map(|(_, v)| v.iter().map(|(_, x)| *x))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let n = hours.len().max(1);
    let width = 1.0 / (names.len().max(1) as f64 + 1.0);
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_labels(0)
            .y_labels(5)
            .y_label_formatter(&|v| Scale::Count.format(*v))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        // Each hour's label under the middle of its group, at most 8 of them.
        let every = n.div_ceil(8);
        let area = chart.plotting_area();
        let root = area.strip_coord_spec();
        let offset = root.get_base_pixel();
        let style = TextStyle::from((FONT, 12).into_font())
            .pos(Pos::new(HPos::Center, VPos::Top))
            .color(&BLACK);
        for (i, (hour, _)) in hours.iter().enumerate().step_by(every) {
            let (x, y) = area.map_coordinate(&(i as f64 + 0.5, 0.0));
            root.draw_text(
                &hour.format("%m-%d %H:00").to_string(),
                &style,
                (x - offset.0, y - offset.1 + 6),
            )
            .map_err(|e| e.to_string())?;
        }
        for (s, name) in names.iter().enumerate() {
            let fill = series_colour(name, s);
            let bars: Vec<Rectangle<(f64, f64)>> = hours
                .iter()
                .enumerate()
                .filter_map(|(i, (_, values))| {
                    let value = values.iter().find(|(n, _)| n == name)?.1;
                    let x = i as f64 + width * (s as f64 + 0.5);
                    Some(Rectangle::new(
                        [(x, 0.0), (x + width, value)],
                        fill.filled(),
                    ))
                })
                .collect();
            chart.draw_series(bars).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Rejects in shades of the alert colour, the rest in the series colours.
fn series_colour(name: &str, i: usize) -> RGBColor {
    match name {
        "accepted" => colour(0),
        "duplicates" => colour(1),
        _ => {
            let shade = u8::try_from((i * 37) % 120).unwrap_or(0);
            RGBColor(200, 30 + shade, 30 + shade)
        }
    }
}

/// Merchants by the run's first two features, coloured by cluster; outliers are drawn
/// larger and ringed in the alert colour (the page lists them by id: labels in the chart
/// overlap).
pub fn clusters(run: &ClusterRun) -> String {
    let feature = |i: usize| run.features.get(i).cloned().unwrap_or_default();
    let (fx, fy) = (feature(0), feature(1));
    let value = |features: &serde_json::Value, name: &str| {
        features.get(name).and_then(number).unwrap_or(0.0)
    };
    let points: Vec<(f64, f64, i32, bool, &str)> = run
        .members
        .iter()
        .map(|m| {
            (
                value(&m.features, &fx),
                value(&m.features, &fy),
                m.cluster_id,
                m.is_outlier,
                m.merchant_id.as_str(),
            )
        })
        .collect();
    let span = |get: fn(&(f64, f64, i32, bool, &str)) -> f64| {
        let (lo, hi) = points
            .iter()
            .map(get)
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo > hi {
            (0.0, 1.0)
        } else {
            let pad = ((hi - lo) * 0.08).max(1e-9);
            (lo - pad, hi + pad)
        }
    };
    let (x0, x1) = span(|p| p.0);
    let (y0, y1) = span(|p| p.1);
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(feature_axis(&fx))
            .y_desc(feature_axis(&fy))
            .x_label_formatter(&|v| Scale::Number.format(*v))
            .y_label_formatter(&|v| Scale::Number.format(*v))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        let cluster_colour = |c: i32| colour(usize::try_from(c).unwrap_or(0));
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| !p.3)
                    .map(|p| Circle::new((p.0, p.1), 3, cluster_colour(p.2).filled())),
            )
            .map_err(|e| e.to_string())?;
        for p in points.iter().filter(|p| p.3) {
            chart
                .draw_series([
                    Circle::new((p.0, p.1), 5, cluster_colour(p.2).filled()),
                    Circle::new((p.0, p.1), 8, ALERT.stroke_width(2)),
                ])
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// A feature's axis title with its unit (docs/CLUSTERING.md).
fn feature_axis(feature: &str) -> String {
    match feature {
        "volume" => "volume: ln(1 + transactions)".to_owned(),
        "avg_ticket" => "average ticket / its currency's average".to_owned(),
        other => other.replace('_', " "),
    }
}

fn number(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// At most `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minutes)
    }

    #[test]
    fn a_time_series_draws_one_line_per_series_with_its_legend() {
        let points: Vec<Point> = (0..12)
            .flat_map(|i| {
                [("card", 10.0 + i as f64), ("ach", 3.0)].map(|(s, v)| Point {
                    at: t(5 * i),
                    series: s.to_owned(),
                    value: v,
                })
            })
            .collect();
        let svg = time_series(&points, t(0), t(60), Scale::Count);
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        // One line in each series' colour, and a dot on each of its 12 points.
        for i in 0..2 {
            let RGBColor(r, g, b) = colour(i);
            let stroke = format!("stroke=\"#{r:02X}{g:02X}{b:02X}\"");
            assert_eq!(svg.matches(&stroke).count(), 1, "{stroke}");
            let fill = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
            assert_eq!(svg.matches(&fill).count(), 12, "{fill}");
        }
        // The legend names the series in the colours the chart gave them.
        assert_eq!(
            series_legend(&points),
            vec![
                ("ach".to_owned(), colour(0)),
                ("card".to_owned(), colour(1))
            ]
        );
    }

    #[test]
    fn a_series_of_one_point_is_still_drawn() {
        let points = [Point {
            at: t(30),
            series: "late events".into(),
            value: 7.0,
        }];
        let svg = time_series(&points, t(0), t(60), Scale::Count);
        assert!(svg.contains("<circle"), "{svg}");
    }

    #[test]
    fn bars_carry_their_labels_and_values_and_nothing_breaks_on_no_data() {
        let svg = bars(
            &[("electronics".into(), 0.5), ("<grocery>".into(), 0.25)],
            Scale::Percent,
            true,
        );
        assert!(svg.contains("50.0 %"));
        assert!(svg.contains("&lt;grocery&gt;"), "labels are escaped");
        assert!(!svg.contains("<grocery>"));
        let empty = bars(&[], Scale::Count, false);
        assert!(empty.starts_with("<svg") && empty.trim_end().ends_with("</svg>"));
        let empty = time_series(&[], t(0), t(60), Scale::Percent);
        assert!(empty.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn numbers_read_without_trailing_zeros() {
        assert_eq!(Scale::Number.format(80.0), "80");
        assert_eq!(Scale::Number.format(0.15), "0.15");
        assert_eq!(Scale::Number.format(2.5), "2.5");
        assert_eq!(Scale::Number.format(1500.4), "1500");
    }

    #[test]
    fn long_labels_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("électronique-grand-public", 8), "électro…");
        assert_eq!(shorten("short", 8), "short");
    }
}
