//! Charts as PNG for the HTML part: the weekly trend of the handoff rate and of the owner's
//! branches, and a waterfall of each branch's change by segment. Drawn with plotters' bitmap
//! backend at twice the size they are shown (sharp on high-density screens), on white (dark
//! mode clients would otherwise show transparent pixels on black), with text from a font
//! compiled into the binary (DejaVu Sans, `fonts/LICENSE-DejaVu`) so no system font is
//! needed. Every mark that colour distinguishes also has a label or sign: never colour alone.

use super::view::{Breakdown, TrendRow};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::sync::OnceLock;

/// Pixels drawn per CSS pixel shown.
const SCALE: u32 = 2;
/// The width charts are shown at: the report's inner column.
pub const WIDTH: u32 = 552;
const TREND_HEIGHT: u32 = 300;

const FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const FAMILY: &str = "baton-sans";

const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
const MUTED: RGBColor = RGBColor(0x6b, 0x72, 0x80);
const BRANCH: RGBColor = RGBColor(0x1d, 0x4e, 0xd8);
/// Handoffs up is worse for the customer, down is better; the labels carry the sign too.
const UP: RGBColor = RGBColor(0xb9, 0x1c, 0x1c);
const DOWN: RGBColor = RGBColor(0x15, 0x80, 0x3d);

/// A chart ready to embed: the PNG and what the `<img>` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Without angle brackets: `trend@baton`.
    pub content_id: String,
    /// The chart in words, for the `alt` attribute (images are often blocked by default).
    pub alt: String,
    /// Size shown, in CSS pixels (the PNG is [`SCALE`] times larger).
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the embedded chart font does not load")]
    Font,
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    #[error("cannot encode the chart as PNG: {0}")]
    Png(#[from] png::EncodingError),
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> ChartError {
    ChartError::Draw(e.to_string())
}

fn font_ready() -> Result<(), ChartError> {
    static LOADED: OnceLock<bool> = OnceLock::new();
    let ok = *LOADED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(()).ok_or(ChartError::Font)
}

fn px(css: u32) -> i32 {
    (css * SCALE) as i32
}

fn text(size: u32, colour: RGBColor) -> TextStyle<'static> {
    (FAMILY, px(size)).into_font().color(&colour)
}

/// `2026-W47` -> `W47`: the year is in the heading.
fn short_week(label: &str) -> &str {
    label.rsplit_once('-').map_or(label, |(_, w)| w)
}

/// A y range in percent that shows week-to-week movement without inventing it: the data's
/// range padded by a quarter, at least one point wide, clamped to 0..100.
fn axis_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let mid = (lo + hi) / 2.0;
    let half = ((hi - lo).max(1.0) / 2.0) * 1.5;
    let (mut lo, mut hi) = (mid - half, mid + half);
    if lo < 0.0 {
        hi -= lo;
        lo = 0.0;
    }
    if hi > 100.0 {
        lo = (lo - (hi - 100.0)).max(0.0);
        hi = 100.0;
    }
    (lo, hi)
}

fn encode(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut w = enc.write_header()?;
    w.write_image_data(rgb)?;
    w.finish()?;
    Ok(out)
}

/// Draws into an RGB buffer of the chart's pixel size and encodes it.
fn draw_png(
    width: u32,
    height: u32,
    f: impl FnOnce(&DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    font_ready()?;
    let (w, h) = (width * SCALE, height * SCALE);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        f(&root)?;
        root.present().map_err(draw_err)?;
    }
    encode(w, h, &buf)
}

/// The trend: the handoff rate of every conversation above, the owner's branches below, one
/// point per week with the current week's value written next to it. `None` with fewer than
/// two weeks of data (a line of one point says nothing).
/// `branch_title: None` draws the handoff rate alone (a team lead's report, whose branches
/// are all four).
pub fn trend(rows: &[TrendRow], branch_title: Option<&str>) -> Result<Option<Chart>, ChartError> {
    let weeks = rows.iter().filter(|t| t.handoff_rate.is_some()).count();
    if weeks < 2 {
        return Ok(None);
    }
    let height = match branch_title {
        Some(_) => TREND_HEIGHT,
        None => TREND_HEIGHT / 2,
    };
    let png = draw_png(WIDTH, height, |root| {
        let overall = |area: &DrawingArea<BitMapBackend, plotters::coord::Shift>| {
            panel(area, "Handoff rate, all conversations", rows, INK, |t| {
                t.handoff_rate
            })
        };
        match branch_title {
            Some(title) => {
                let (top, bottom) = root.split_vertically(px(TREND_HEIGHT / 2));
                overall(&top)?;
                panel(&bottom, title, rows, BRANCH, |t| t.branch_rate)
            }
            None => overall(root),
        }
    })?;
    let first = rows.first().map_or("", |t| t.period.as_str());
    let last = rows.last().map_or("", |t| t.period.as_str());
    let span = |f: fn(&TrendRow) -> &str| {
        format!(
            "{} to {}",
            rows.first().map_or("", f),
            rows.last().map_or("", f)
        )
    };
    let mut alt = format!(
        "Weekly trend {first} to {last}: handoff rate {}",
        span(|t| t.handoff_rate_text.as_str())
    );
    if let Some(title) = branch_title {
        alt.push_str(&format!(
            "; {title} {}",
            span(|t| t.branch_rate_text.as_str())
        ));
    }
    Ok(Some(Chart {
        content_id: "trend@baton".into(),
        alt,
        width: WIDTH,
        height,
        png,
    }))
}

fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    rows: &[TrendRow],
    colour: RGBColor,
    value: impl Fn(&TrendRow) -> Option<f64>,
) -> Result<(), ChartError> {
    let n = rows.len() as i32;
    let points: Vec<(i32, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, t)| value(t).map(|v| (i as i32, v * 100.0)))
        .collect();
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, text(14, INK))
        .margin_top(px(4))
        .margin_right(px(40))
        .margin_left(px(4))
        .x_label_area_size(px(22))
        .y_label_area_size(px(54));
    if points.is_empty() {
        area.draw(&Text::new(
            format!("{title}: no conversations in these weeks"),
            (px(8), px(20)),
            text(11, MUTED),
        ))
        .map_err(draw_err)?;
        return Ok(());
    }
    let (lo, hi) = axis_range(points.iter().map(|p| p.1));
    let mut chart = builder
        .build_cartesian_2d((0..n - 1).into_segmented(), lo..hi)
        .map_err(draw_err)?;
    let week = |x: &SegmentValue<i32>| match x {
        SegmentValue::CenterOf(i) => rows
            .get(*i as usize)
            .map_or(String::new(), |t| short_week(&t.period).to_string()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(MUTED)
        .x_labels(rows.len())
        .x_label_formatter(&week)
        .y_labels(4)
        .y_label_formatter(&|y| format!("{y:.1} %"))
        .label_style(text(12, MUTED))
        .draw()
        .map_err(draw_err)?;
    let at = |(i, v): (i32, f64)| (SegmentValue::CenterOf(i), v);
    chart
        .draw_series(LineSeries::new(
            points.iter().copied().map(at),
            colour.stroke_width(SCALE + 1),
        ))
        .map_err(draw_err)?;
    chart
        .draw_series(
            points
                .iter()
                .copied()
                .map(|p| Circle::new(at(p), px(3), colour.filled())),
        )
        .map_err(draw_err)?;
    // The current week is marked by its value, not by colour.
    if let Some(&(i, v)) = points
        .iter()
        .find(|(i, _)| rows[*i as usize].current)
        .or(points.last())
    {
        let mark = EmptyElement::at(at((i, v)))
            + Circle::new((0, 0), px(5), ShapeStyle::from(&colour).stroke_width(SCALE))
            + Text::new(format!("{v:.1} %"), (px(8), -px(16)), text(13, INK));
        chart.draw_series(std::iter::once(mark)).map_err(draw_err)?;
    }
    Ok(())
}

/// One bar of a waterfall: a segment's share of the change, the rest, or the total.
struct Step {
    label: String,
    from: f64,
    to: f64,
    total: bool,
}

const BAR_HEIGHT: u32 = 26;

/// The waterfall of a branch's change: each segment's share as a bar starting where the last
/// one ended, then everything else, then the change of the branch from zero. The bars add up
/// to the total on screen, like the table next to it. `None` when the change is zero.
pub fn waterfall(b: &Breakdown) -> Result<Option<Chart>, ChartError> {
    if b.change_pp == 0.0 || !b.change_pp.is_finite() {
        return Ok(None);
    }
    let mut steps = Vec::new();
    let mut at = 0.0;
    let shares = b
        .rows
        .iter()
        .map(|r| (r.segment.as_str(), r.contribution_pp))
        .chain(std::iter::once(("everything else", b.other_pp)));
    for (segment, pp) in shares {
        steps.push(Step {
            label: format!("{}  {}", crate::text::cut(segment, 24), signed_pp(pp)),
            from: at,
            to: at + pp,
            total: false,
        });
        at += pp;
    }
    steps.push(Step {
        label: format!("{}  {}", b.label, signed_pp(b.change_pp)),
        from: 0.0,
        to: b.change_pp,
        total: true,
    });
    let height = BAR_HEIGHT * steps.len() as u32 + 56;
    let png = draw_png(WIDTH, height, |root| draw_waterfall(root, b, &steps))?;
    let alt = format!(
        "{} changed {} by {}: {}",
        b.label,
        signed_pp(b.change_pp),
        b.dimension,
        steps[..steps.len() - 1]
            .iter()
            .map(|s| s.label.replace("  ", " "))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Some(Chart {
        content_id: format!("waterfall-{}@baton", b.cause.as_str()),
        alt,
        width: WIDTH,
        height,
        png,
    }))
}

fn signed_pp(pp: f64) -> String {
    // The sign is part of the label: the colour only repeats it.
    let pp = if pp.abs() < 0.05 { 0.0 } else { pp };
    format!("{pp:+.1} pp")
}

fn draw_waterfall(
    root: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    b: &Breakdown,
    steps: &[Step],
) -> Result<(), ChartError> {
    let (lo, hi) = steps.iter().fold((0.0f64, 0.0f64), |(lo, hi), s| {
        (lo.min(s.from).min(s.to), hi.max(s.from).max(s.to))
    });
    let pad = ((hi - lo) * 0.08).max(0.05);
    let k = steps.len() as i32;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{} by {}, in points", b.label, b.dimension),
            text(14, INK),
        )
        .margin_top(px(4))
        .margin_right(px(16))
        .margin_left(px(4))
        .x_label_area_size(px(22))
        .y_label_area_size(px(230))
        .build_cartesian_2d(lo - pad..hi + pad, (0..k - 1).into_segmented())
        .map_err(draw_err)?;
    // Bars are listed top to bottom in the order of the table: row i sits at k - 1 - i.
    let name = |y: &SegmentValue<i32>| match y {
        SegmentValue::CenterOf(j) => steps
            .get((k - 1 - j) as usize)
            .map_or(String::new(), |s| s.label.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(MUTED)
        .y_labels(steps.len())
        .y_label_formatter(&name)
        .x_labels(5)
        .x_label_formatter(&|x: &f64| format!("{x:+.1}"))
        .label_style(text(12, INK))
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(steps.iter().enumerate().map(|(i, s)| {
            let j = k - 1 - i as i32;
            let colour = if s.total {
                INK
            } else if s.to >= s.from {
                UP
            } else {
                DOWN
            };
            let (x0, x1) = (s.from.min(s.to), s.from.max(s.to));
            let mut bar = Rectangle::new(
                [
                    (x0, SegmentValue::Exact(j)),
                    (x1, SegmentValue::Exact(j + 1)),
                ],
                colour.filled(),
            );
            bar.set_margin(px(5) as u32, px(5) as u32, 0, 0);
            bar
        }))
        .map_err(draw_err)?;
    // Zero, where the change starts and the total is measured from.
    let zero: [(f64, SegmentValue<i32>); 2] =
        [(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(k))];
    chart
        .draw_series(LineSeries::new(zero, MUTED.stroke_width(SCALE)))
        .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Cause;
    use crate::report::BreakdownRow;

    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut r = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn week(i: usize, rate: f64, branch: f64) -> TrendRow {
        TrendRow {
            period: format!("2026-W{:02}", 40 + i),
            conversations: 3000,
            handoff_rate: Some(rate),
            branch_rate: Some(branch),
            handoff_rate_text: format!("{:.1} %", rate * 100.0),
            branch_rate_text: format!("{:.1} %", branch * 100.0),
            bar: String::new(),
            current: i == 7,
        }
    }

    #[test]
    fn the_axis_shows_small_moves_and_never_leaves_0_to_100() {
        // 7.3 % -> 8.8 %: the range hugs the data instead of starting at zero.
        let (lo, hi) = axis_range([7.3, 8.1, 8.8].into_iter());
        assert!(lo > 6.0 && lo < 7.3 && hi > 8.8 && hi < 10.1, "{lo}..{hi}");
        // A flat line still gets a one-point-wide window (noise does not look like a cliff).
        let (lo, hi) = axis_range([5.0, 5.0].into_iter());
        assert!((hi - lo - 1.5).abs() < 1e-9 && lo < 5.0 && hi > 5.0);
        let (lo, _) = axis_range([0.1, 0.2].into_iter());
        assert_eq!(lo, 0.0);
        let (_, hi) = axis_range([99.9, 99.5].into_iter());
        assert_eq!(hi, 100.0);
    }

    #[test]
    fn the_trend_is_a_2x_png_on_white_with_marks_in_the_branch_colour() {
        let rows: Vec<TrendRow> = (0..8)
            .map(|i| week(i, 0.33 + i as f64 * 0.002, 0.07 + i as f64 * 0.002))
            .collect();
        let c = trend(&rows, Some("Routing")).unwrap().unwrap();
        assert_eq!((c.width, c.height), (WIDTH, TREND_HEIGHT));
        let (w, h, rgb) = decode(&c.png);
        assert_eq!((w, h), (WIDTH * 2, TREND_HEIGHT * 2));
        // The corner is the white background; the branch colour and the ink are both drawn.
        assert_eq!(&rgb[..3], &[255, 255, 255]);
        let has = |c: RGBColor| rgb.chunks(3).any(|p| p == [c.0, c.1, c.2]);
        assert!(has(BRANCH) && has(INK));
        assert!(
            c.alt.contains("2026-W40") && c.alt.contains("2026-W47"),
            "{}",
            c.alt
        );
        assert!(
            c.alt.contains("33.0 %") && c.alt.contains("Routing"),
            "{}",
            c.alt
        );
        // One week is not a trend.
        assert!(trend(&rows[..1], Some("Routing")).unwrap().is_none());
        // A team lead's trend is the handoff rate alone, half as tall.
        let solo = trend(&rows, None).unwrap().unwrap();
        assert_eq!(solo.height, TREND_HEIGHT / 2);
        assert!(!solo.png.is_empty() && !solo.alt.contains("Routing"));
        assert!(!decode(&solo.png)
            .2
            .chunks(3)
            .any(|p| p == [BRANCH.0, BRANCH.1, BRANCH.2]));
    }

    #[test]
    fn the_waterfall_adds_up_and_labels_each_bar_with_its_sign() {
        let row = |s: &str, pp: f64| BreakdownRow {
            segment: s.into(),
            contribution_pp: pp,
            contribution_text: String::new(),
            arrow: String::new(),
            role: String::new(),
            significant: true,
            footnote: None,
        };
        let b = Breakdown {
            cause: Cause::Routing,
            label: "Routing".into(),
            dimension: "topic".into(),
            change_pp: 1.8,
            change_text: "+1.8 pp".into(),
            rows: vec![row("billing", 1.5), row("refund", 0.6)],
            other_pp: -0.3,
            other_text: "-0.3 pp".into(),
            other_role: String::new(),
        };
        let c = waterfall(&b).unwrap().unwrap();
        assert_eq!(c.content_id, "waterfall-routing@baton");
        assert_eq!(c.height, BAR_HEIGHT * 4 + 56);
        let (w, h, rgb) = decode(&c.png);
        assert_eq!((w, h), (WIDTH * 2, c.height * 2));
        let has = |c: RGBColor| rgb.chunks(3).any(|p| p == [c.0, c.1, c.2]);
        // Rises, the offset and the total are each drawn.
        assert!(has(UP) && has(DOWN) && has(INK));
        assert_eq!(
            c.alt,
            "Routing changed +1.8 pp by topic: billing +1.5 pp, refund +0.6 pp, everything else -0.3 pp"
        );
        let flat = Breakdown {
            change_pp: 0.0,
            ..b
        };
        assert!(waterfall(&flat).unwrap().is_none());
    }
}
