//! Report: per-owner view models built from the metrics, rendered with minijinja to an HTML
//! part (one 600 px column, inline styles, auto-escaped) and a text part, plus the CSV of
//! every segment movement.
//!
//! Public face: [`owner_views`] -> [`OwnerView`]; [`Renderer::render`] -> [`Rendered`];
//! [`check_templates`] for `baton check`.

mod alert;
mod chart;
mod csv;
pub use crate::format;
mod render;
mod sample;
mod view;

pub use alert::{branch_alerts, BranchAlert};
pub use chart::{Chart, ChartError};
pub use format::Tone;
pub use render::{
    check_templates, file_safe, Attachment, InlineImage, RenderError, Rendered, Renderer,
    TemplateError, HTML_LIMIT_BYTES,
};
pub use sample::sample_view;
pub use view::{
    conversation_link, owner_views, owner_views_at, recipients, subject, team_leads, team_views_at,
    AgentLine, AiSection, BranchLine, Breakdown, BreakdownRow, DriverLine, Example, Footer,
    MeasureLine, OwnerView, QuarantineLine, SegmentMove, TreeLine, TrendRow,
};

#[cfg(test)]
mod tests;
