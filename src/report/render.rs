//! The minijinja environment: templates embedded in the binary, optionally overridden from a
//! folder, `*.html` auto-escaped and `*.txt` not (minijinja's default by file extension).

use super::chart::{self, Chart, ChartError};
use super::csv::movements_csv;
use super::format;
use super::view::{OwnerView, SegmentMove};
use minijinja::{context, Environment, UndefinedBehavior, Value};
use std::path::{Path, PathBuf};

/// The templates compiled into the binary, by name.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "owner_report.html",
        include_str!("../../templates/owner_report.html"),
    ),
    (
        "owner_report.txt",
        include_str!("../../templates/owner_report.txt"),
    ),
    (
        "partials/footer.html",
        include_str!("../../templates/partials/footer.html"),
    ),
    (
        "partials/footer.txt",
        include_str!("../../templates/partials/footer.txt"),
    ),
    (
        "partials/change.html",
        include_str!("../../templates/partials/change.html"),
    ),
    ("alert.html", include_str!("../../templates/alert.html")),
    ("alert.txt", include_str!("../../templates/alert.txt")),
];

/// The stylesheet inlined into the HTML part (`templates/report.css`, overridable like the
/// templates).
const STYLESHEET: &str = include_str!("../../templates/report.css");
const STYLESHEET_NAME: &str = "report.css";

const HTML_TEMPLATE: &str = "owner_report.html";
const TEXT_TEMPLATE: &str = "owner_report.txt";

/// Gmail clips an HTML part past about 102 KB: stay clearly below.
pub const HTML_LIMIT_BYTES: usize = 90 * 1024;

use super::view::MAX_NAME_CHARS;

/// A file attached to the message (the CSV of segment movements, later the drivers).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    /// MIME type, e.g. `text/csv; charset=utf-8`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A PNG shown inside the HTML part, referenced there as `cid:<content_id>` (the charts).
#[derive(Debug, Clone, PartialEq)]
pub struct InlineImage {
    /// Without angle brackets: `trend@baton`.
    pub content_id: String,
    pub png: Vec<u8>,
}

/// The charts of one report: the trend, and a waterfall per breakdown (same order).
struct Charts {
    trend: Option<Chart>,
    waterfalls: Vec<Option<Chart>>,
}

impl Charts {
    /// A chart that cannot be drawn is left out with a warning: the numbers it shows are in
    /// the tables next to it, and a report without a picture beats no report on Monday.
    fn of(view: &OwnerView) -> Charts {
        let keep = |what: &str, r: Result<Option<Chart>, ChartError>| {
            r.unwrap_or_else(|e| {
                tracing::warn!(owner = %view.owner.id, "{what} chart left out: {e}");
                None
            })
        };
        let branch_title = match (&view.team, view.branches.as_slice()) {
            (Some(team), _) => Some(format!("Team {team}")),
            (None, []) => None,
            (None, [one]) => Some(one.label.clone()),
            (None, _) => Some("Your branches together".to_string()),
        };
        Charts {
            trend: keep("trend", chart::trend(&view.trend, branch_title.as_deref())),
            waterfalls: view
                .breakdowns
                .iter()
                .map(|b| keep("waterfall", chart::waterfall(b)))
                .collect(),
        }
    }

    fn images(&self) -> Vec<InlineImage> {
        self.trend
            .iter()
            .chain(self.waterfalls.iter().flatten())
            .map(|c| InlineImage {
                content_id: c.content_id.clone(),
                png: c.png.clone(),
            })
            .collect()
    }
}

/// What a template needs to show a chart: `<img src="cid:{{ c.cid }}" ...>`.
#[derive(serde::Serialize)]
struct ChartRef {
    cid: String,
    alt: String,
    width: u32,
    height: u32,
}

impl ChartRef {
    fn of(c: &Chart) -> ChartRef {
        ChartRef {
            cid: c.content_id.clone(),
            alt: c.alt.clone(),
            width: c.width,
            height: c.height,
        }
    }
}

/// One rendered message body.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Files to attach: the full segment table when there is one.
    pub attachments: Vec<Attachment>,
    /// Images referenced by `cid:` from `html`: the charts.
    pub inline_images: Vec<InlineImage>,
}

/// A template that does not compile or render, with the file and line to fix.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The template file (`templates/owner_report.html`), or the embedded name.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot read template folder {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot inline the report stylesheet: {0}")]
    Css(String),
    #[error("cannot write the CSV attachment: {0}")]
    Csv(#[from] polars::error::PolarsError),
    #[error("the HTML part of {owner}'s report is {bytes} bytes even without inline segment rows; the limit is {limit} (Gmail clips past about 102 KB)")]
    TooLarge {
        owner: String,
        bytes: usize,
        limit: usize,
    },
}

/// Renders owner reports.
pub struct Renderer {
    env: Environment<'static>,
    /// Template name -> file it was loaded from (overrides only), for error messages.
    origins: Vec<(String, PathBuf)>,
    max_rows_inline: usize,
    stylesheet: String,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("overrides", &self.origins)
            .field("max_rows_inline", &self.max_rows_inline)
            .finish()
    }
}

fn base_env() -> Environment<'static> {
    let mut env = Environment::new();
    // A misspelt variable in a template is an error (found by `baton check`), not a blank.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Text files end with a newline; so does the text part.
    env.set_keep_trailing_newline(true);
    env.add_filter("pct", |x: Option<f64>| format::pct(x));
    env.add_filter("pp", |x: Option<f64>| format::pp(x));
    env.add_filter("arrow", |x: Option<f64>| format::arrow(x).to_string());
    // Text tables align on characters, not bytes (names and arrows are not ASCII).
    env.add_filter("ljust", |s: String, width: usize| {
        let n = s.chars().count();
        format!("{s}{}", " ".repeat(width.saturating_sub(n)))
    });
    env.add_filter("rjust", |s: String, width: usize| {
        let n = s.chars().count();
        format!("{}{s}", " ".repeat(width.saturating_sub(n)))
    });
    env.add_filter("count", |n: i64| format::count(n));
    env.add_filter("num", |x: Option<f64>, digits: Option<usize>| {
        format::num(x, digits.unwrap_or(1))
    });
    env
}

impl Renderer {
    /// The embedded templates only.
    pub fn new() -> Renderer {
        let mut env = base_env();
        for (name, src) in EMBEDDED {
            env.add_template(name, src)
                .expect("embedded templates compile (tested)");
        }
        Renderer {
            env,
            origins: vec![],
            max_rows_inline: 10,
            stylesheet: STYLESHEET.to_string(),
        }
    }

    /// The embedded templates, overridden by any `*.html` / `*.txt` file under `dir` with the
    /// same relative name (`owner_report.html`, `partials/footer.html`, ...).
    pub fn from_dir(dir: &Path) -> Result<Renderer, RenderError> {
        let mut r = Renderer::new();
        let mut files = Vec::new();
        collect_templates(dir, dir, &mut files)?;
        let css = dir.join(STYLESHEET_NAME);
        if css.is_file() {
            r.stylesheet =
                std::fs::read_to_string(&css).map_err(|source| RenderError::ReadDir {
                    dir: css.clone(),
                    source,
                })?;
        }
        files.sort();
        for (name, path) in files {
            let src = std::fs::read_to_string(&path).map_err(|source| RenderError::ReadDir {
                dir: path.clone(),
                source,
            })?;
            r.env
                .add_template_owned(name.clone(), src)
                .map_err(|e| template_error(&e, Some(&path)))?;
            r.origins.push((name, path));
        }
        Ok(r)
    }

    /// Rows of a long table shown inline before the rest is left to the CSV attachment
    /// (`report.max_rows_inline`).
    pub fn with_max_rows_inline(mut self, n: usize) -> Renderer {
        self.max_rows_inline = n;
        self
    }

    /// Subject, HTML and text of one owner's report, plus the CSV of every segment movement.
    /// Inline rows are cut further if the HTML would pass [`HTML_LIMIT_BYTES`].
    pub fn render(&self, view: &OwnerView) -> Result<Rendered, RenderError> {
        let total = view.movements.len();
        let csv_name = format!(
            "segments-{}-{}.csv",
            file_safe(&view.period.label),
            view.owner.id
        );
        let inline: Vec<&SegmentMove> = view
            .movements
            .iter()
            .filter(|m| m.dimension != "agent")
            .collect();
        let charts = Charts::of(view);
        let mut shown = self.max_rows_inline.min(inline.len());
        loop {
            let ctx = self.context(view, &inline[..shown], &csv_name, &charts);
            let html = self.inline_styles(&self.render_one(HTML_TEMPLATE, &ctx)?)?;
            if html.len() > HTML_LIMIT_BYTES && shown > 0 {
                shown /= 2;
                continue;
            }
            if html.len() > HTML_LIMIT_BYTES {
                return Err(RenderError::TooLarge {
                    owner: view.owner.name.clone(),
                    bytes: html.len(),
                    limit: HTML_LIMIT_BYTES,
                });
            }
            let text = self.render_one(TEXT_TEMPLATE, &ctx)?;
            let attachments = if total > 0 {
                vec![Attachment {
                    filename: csv_name,
                    content_type: "text/csv; charset=utf-8".into(),
                    bytes: movements_csv(
                        &view.movements,
                        &view.period.label,
                        &view.previous_period.label,
                    )?,
                }]
            } else {
                vec![]
            };
            return Ok(Rendered {
                // A header is one line, and a bidi control in it could make the subject read
                // differently from what it says.
                subject: crate::text::one_line(&view.subject),
                html,
                text,
                attachments,
                inline_images: charts.images(),
            });
        }
    }

    /// The short alert of one branch ([`super::branch_alerts`]): HTML (styles inlined) and
    /// text, no attachments.
    pub fn render_alert(&self, alert: &super::BranchAlert) -> Result<Rendered, RenderError> {
        let ctx = Value::from_serialize(alert);
        let html = self.inline_styles(&self.render_one("alert.html", &ctx)?)?;
        let text = self.render_one("alert.txt", &ctx)?;
        Ok(Rendered {
            subject: crate::text::one_line(&alert.subject),
            html,
            text,
            attachments: vec![],
            inline_images: vec![],
        })
    }

    fn context(
        &self,
        view: &OwnerView,
        shown: &[&SegmentMove],
        csv_name: &str,
        charts: &Charts,
    ) -> Value {
        let rows: Vec<SegmentMove> = shown
            .iter()
            .map(|m| SegmentMove {
                value: crate::text::cut(&m.value, MAX_NAME_CHARS).into_owned(),
                ..(*m).clone()
            })
            .collect();
        let actions: Vec<&String> = view.branches.iter().flat_map(|b| &b.actions).collect();
        context! {
            movements_hidden => view.movements.len() - rows.len(),
            movements => rows,
            movements_total => view.movements.len(),
            attachment => (!view.movements.is_empty()).then_some(csv_name),
            actions => actions,
            trend_scale => super::view::trend_scale(&view.trend),
            trend_chart => charts.trend.as_ref().map(ChartRef::of),
            waterfalls => charts.waterfalls.iter().map(|c| c.as_ref().map(ChartRef::of)).collect::<Vec<_>>(),
            ..Value::from_serialize(view)
        }
    }

    /// The stylesheet's rules moved into `style` attributes (css-inline), then the `class`
    /// attributes dropped: mail clients keep inline styles only.
    fn inline_styles(&self, html: &str) -> Result<String, RenderError> {
        let inliner = css_inline::CSSInliner::options()
            .load_remote_stylesheets(false)
            .extra_css(Some(std::borrow::Cow::Borrowed(self.stylesheet.as_str())))
            .build();
        let out = inliner
            .inline(html)
            .map_err(|e| RenderError::Css(e.to_string()))?;
        Ok(strip_classes(&out))
    }

    fn render_one(&self, name: &str, ctx: &Value) -> Result<String, TemplateError> {
        let t = self.env.get_template(name).map_err(|e| self.error(&e))?;
        t.render(ctx).map_err(|e| self.error(&e))
    }

    fn error(&self, e: &minijinja::Error) -> TemplateError {
        let origin = e
            .name()
            .and_then(|n| self.origins.iter().find(|(name, _)| name == n))
            .map(|(_, p)| p.as_path());
        template_error(e, origin)
    }
}

fn template_error(e: &minijinja::Error, origin: Option<&Path>) -> TemplateError {
    let file = match (origin, e.name()) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(n)) => PathBuf::from(format!("<embedded templates/{n}>")),
        (None, None) => PathBuf::from("<template>"),
    };
    let mut message = e.kind().to_string();
    if let Some(d) = e.detail() {
        message.push_str(": ");
        message.push_str(d);
    }
    TemplateError {
        file,
        line: e.line(),
        message,
    }
}

fn collect_templates(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), RenderError> {
    let read_err = |source| RenderError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_dir() {
            collect_templates(root, &path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("html" | "txt")
        ) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
    Ok(())
}

/// Removes every ` class="..."` attribute (their rules are inlined). Class values are written
/// by the templates, never by the helpdesk, and hold no quote.
fn strip_classes(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(" class=\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 8..];
        match after.find('"') {
            Some(j) => rest = &after[j + 1..],
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Period labels are `2026-W46` or `2026-11-09..2026-11-16`: keep them file-name safe.
pub fn file_safe(s: &str) -> String {
    s.replace("..", "_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks the templates of `dir` (as overrides of the embedded ones): they compile and render
/// a sample report. The error names the file and line (`baton check`).
pub fn check_templates(dir: &Path) -> Result<(), RenderError> {
    let r = Renderer::from_dir(dir)?;
    let mut view = super::sample::sample_view();
    r.render(&view)?;
    // The alert templates, on the sample's first branch made to alert.
    if let Some(b) = view.branches.first_mut() {
        b.alert = true;
        b.significant = Some(true);
    }
    for alert in super::branch_alerts(std::slice::from_ref(&view)) {
        r.render_alert(&alert)?;
    }
    Ok(())
}
