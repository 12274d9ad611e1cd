//! Charts as inline SVG, drawn by our own code so that an HTML report is one self-contained file
//! (no CDN, no script). Every label is escaped; an empty series draws a "no data" panel instead
//! of an empty frame.

use std::fmt::Write;

/// Escapes text for HTML and SVG content and attribute values.
/// The empty-series panel's text (the HTML report puts it in the reader's language).
pub const NO_DATA: &str = "no data";

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const WIDTH: f64 = 720.0;
const COLORS: [&str; 4] = ["#2b6cb0", "#38a169", "#d69e2e", "#c53030"];

fn open(height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = escape(title)
    )
}

fn no_data(title: &str) -> String {
    let mut s = open(60.0, title);
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"60\" fill=\"#f7f7f7\"/><text x=\"{}\" y=\"35\" text-anchor=\"middle\" fill=\"#666\" font-size=\"14\">{NO_DATA}</text></svg>",
        WIDTH / 2.0
    );
    s
}

fn fmt_value(v: f64, percent: bool) -> String {
    if percent {
        format!("{:.1} %", v * 100.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Horizontal bars, one per label (funnels, answer distributions). Values are absolute.
pub fn bars(title: &str, items: &[(String, f64)]) -> String {
    if items.is_empty() {
        return no_data(title);
    }
    let row = 26.0;
    let label_w = 180.0;
    let height = items.len() as f64 * row + 10.0;
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let span = WIDTH - label_w - 70.0;
    let mut s = open(height, title);
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let w = (v.max(0.0) / max * span).max(if *v > 0.0 { 1.0 } else { 0.0 });
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"13\">{l}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{c}\"><title>{l}: {v}</title></rect><text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"12\">{v}</text>",
            lx = label_w - 8.0,
            ty = y + 16.0,
            l = escape(label),
            h = row - 6.0,
            c = COLORS[0],
            v = fmt_value(*v, false),
            vx = label_w + w + 6.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// One series of a column chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
}

/// Grouped columns over labelled buckets (e.g. attempts and answers by hour), with a legend.
/// `percent` formats values as rates (0..1, axis up to 100 %); otherwise values are counts and
/// the axis ticks are whole numbers. A value that is not a number (NaN: nothing to measure in
/// that bucket, e.g. an hour without calls) draws no column, which is not the same as 0.
pub fn columns(title: &str, labels: &[String], series: &[Series], percent: bool) -> String {
    let any = series.iter().any(|s| s.values.iter().any(|v| *v > 0.0));
    if labels.is_empty() || series.is_empty() || !any {
        return no_data(title);
    }
    let (top, bottom, left, height) = (24.0, 48.0, 48.0, 260.0);
    let plot_h = height - top - bottom;
    let plot_w = WIDTH - left - 10.0;
    let max = if percent {
        1.0
    } else {
        // An even whole number, so that the middle gridline is a whole count too.
        let top = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(1.0);
        (top / 2.0).ceil() * 2.0
    };
    let mut s = open(height, title);
    // Axis with three gridlines.
    for k in 0..=2 {
        let v = max * k as f64 / 2.0;
        let y = top + plot_h - plot_h * k as f64 / 2.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"11\">{t}</text>",
            x2 = left + plot_w,
            tx = left - 4.0,
            ty = y + 4.0,
            t = fmt_value(v, percent)
        );
    }
    let group = plot_w / labels.len() as f64;
    let bar = (group * 0.8 / series.len() as f64).clamp(1.0, 28.0);
    let every = (labels.len() / 12).max(1);
    for (i, label) in labels.iter().enumerate() {
        let gx = left + i as f64 * group + group * 0.1;
        for (j, ser) in series.iter().enumerate() {
            let v = ser.values.get(i).copied().unwrap_or(0.0);
            if !v.is_finite() {
                continue;
            }
            let v = v.max(0.0);
            let h = v / max * plot_h;
            let _ = write!(
                s,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{c}\"><title>{l} {n}: {v}</title></rect>",
                x = gx + j as f64 * bar,
                y = top + plot_h - h,
                c = COLORS[j % COLORS.len()],
                l = escape(label),
                n = escape(ser.name),
                v = fmt_value(v, percent),
            );
        }
        if i % every == 0 {
            // Under the middle of the bucket's columns (a lone bucket's columns are narrower
            // than its share of the width).
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"10\">{l}</text>",
                x = gx + bar * series.len() as f64 / 2.0,
                y = top + plot_h + 14.0,
                l = escape(label)
            );
        }
    }
    for (j, ser) in series.iter().enumerate() {
        let x = left + j as f64 * 140.0;
        let y = height - 14.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{ry}\" width=\"12\" height=\"12\" fill=\"{c}\"/><text x=\"{tx}\" y=\"{y}\" font-size=\"12\">{n}</text>",
            ry = y - 10.0,
            c = COLORS[j % COLORS.len()],
            tx = x + 16.0,
            n = escape(ser.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A line of rates (0..1) over labelled points; `None` points (no data that day) break the line.
/// `limit` draws a dashed threshold line, labelled, with points above it in the alarm colour.
pub fn rate_line(
    title: &str,
    points: &[(String, Option<f64>)],
    limit: Option<(f64, &str)>,
) -> String {
    if points.iter().all(|(_, v)| v.is_none()) {
        return no_data(title);
    }
    let (top, bottom, left, height) = (20.0, 36.0, 48.0, 220.0);
    let plot_h = height - top - bottom;
    let plot_w = WIDTH - left - 20.0;
    let max = points
        .iter()
        .filter_map(|(_, v)| *v)
        .fold(0.0, f64::max)
        .max(limit.map(|(l, _)| l * 1.2).unwrap_or(0.0))
        .max(0.05);
    let step = if points.len() > 1 {
        plot_w / (points.len() - 1) as f64
    } else {
        0.0
    };
    let mut s = open(height, title);
    for k in 0..=2 {
        let v = max * k as f64 / 2.0;
        let y = top + plot_h - plot_h * k as f64 / 2.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"11\">{t}</text>",
            x2 = left + plot_w,
            tx = left - 4.0,
            ty = y + 4.0,
            t = fmt_value(v, true)
        );
    }
    if let Some((l, label)) = limit {
        let y = top + plot_h - l / max * plot_h;
        let _ = write!(
            s,
            "<line class=\"limit\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"{c}\" stroke-dasharray=\"6 4\"/><text x=\"{x2}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"{c}\">{t}</text>",
            x2 = left + plot_w,
            ty = y - 4.0,
            c = COLORS[3],
            t = escape(label)
        );
    }
    let mut path = String::new();
    let mut pen_down = false;
    let every = (points.len() / 10).max(1);
    for (i, (label, v)) in points.iter().enumerate() {
        let x = left + i as f64 * step;
        match v {
            Some(v) => {
                let y = top + plot_h - v / max * plot_h;
                let _ = write!(path, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
                let over = limit.is_some_and(|(l, _)| *v > l);
                let _ = write!(
                    s,
                    "<circle class=\"point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{c}\"><title>{l}: {t}</title></circle>",
                    r = if over { 5 } else { 3 },
                    c = if over { COLORS[3] } else { COLORS[0] },
                    l = escape(label),
                    t = fmt_value(*v, true)
                );
            }
            None => pen_down = false,
        }
        if i % every == 0 {
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"10\">{l}</text>",
                y = top + plot_h + 14.0,
                l = escape(label)
            );
        }
    }
    if !path.is_empty() {
        let _ = write!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            path.trim_end(),
            COLORS[0]
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn bars_draw_one_rect_per_item_and_escape_labels() {
        let svg = bars(
            "Funnel <x>",
            &[("contacts".into(), 10.0), ("<b>answered</b>".into(), 4.0)],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains("&lt;b&gt;answered&lt;/b&gt;"));
        assert!(svg.contains("Funnel &lt;x&gt;"));
        assert!(!svg.contains("<b>"));
        // The largest bar spans the plot; the others are proportional.
        assert!(svg.contains("width=\"470.0\""), "{svg}");
        assert!(svg.contains("width=\"188.0\""), "{svg}");
    }

    #[test]
    fn empty_series_say_no_data() {
        assert!(bars("t", &[]).contains("no data"));
        assert!(columns(
            "t",
            &["0".into()],
            &[Series {
                name: "a",
                values: vec![0.0]
            }],
            false
        )
        .contains("no data"));
        assert!(rate_line("t", &[("d".into(), None)], None).contains("no data"));
    }

    #[test]
    fn columns_draw_every_series_and_a_legend() {
        let labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
        let svg = columns(
            "By hour",
            &labels,
            &[
                Series {
                    name: "attempts",
                    values: (0..24).map(|h| h as f64).collect(),
                },
                Series {
                    name: "answers",
                    values: vec![1.0; 24],
                },
            ],
            false,
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 48);
        assert!(svg.contains(">attempts</text>") && svg.contains(">answers</text>"));
        let rates = columns(
            "Rate",
            &labels,
            &[Series {
                name: "answer rate",
                values: vec![0.5; 24],
            }],
            true,
        );
        assert!(rates.contains("100.0 %"), "the rate axis tops at 100 %");
        assert!(rates.contains("50.0 %"));
    }

    #[test]
    fn rate_lines_break_on_missing_days() {
        let svg = rate_line(
            "Abandon",
            &[
                ("d1".into(), Some(0.01)),
                ("d2".into(), None),
                ("d3".into(), Some(0.02)),
            ],
            None,
        );
        assert_eq!(svg.matches("class=\"point\"").count(), 2);
        // Two sub-paths: the missing day lifts the pen.
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
    }

    #[test]
    fn count_axes_tick_whole_numbers() {
        let svg = columns(
            "t",
            &["a".into()],
            &[Series {
                name: "attempts",
                values: vec![43.0],
            }],
            false,
        );
        // 43 rounds up to 44: ticks 0, 22, 44, never 21.50.
        assert!(
            svg.contains(">22</text>") && svg.contains(">44</text>"),
            "{svg}"
        );
        assert!(!svg.contains(".50<"), "{svg}");
        // A lone bucket's label sits under its column: x = 48 + 0.1 × 662 + 28 / 2.
        assert!(svg.contains("x=\"128.2\" y=\"226\""), "{svg}");
    }

    #[test]
    fn buckets_without_data_draw_no_column() {
        let svg = columns(
            "rate",
            &["09".into(), "10".into()],
            &[Series {
                name: "answer rate",
                values: vec![f64::NAN, 0.5],
            }],
            true,
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 1, "{svg}");
    }

    #[test]
    fn the_abandon_limit_is_a_line_and_points_over_it_stand_out() {
        let svg = rate_line(
            "Abandon",
            &[("d1".into(), Some(0.01)), ("d2".into(), Some(0.2692))],
            Some((0.03, "límite 3,00 %")),
        );
        assert!(svg.contains("class=\"limit\""), "{svg}");
        assert!(svg.contains(">límite 3,00 %</text>"), "{svg}");
        assert_eq!(
            svg.matches("r=\"5\"").count(),
            1,
            "one point over the limit"
        );
    }
}
