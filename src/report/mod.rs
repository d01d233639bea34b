//! Report: placeholder until the report issue lands.

/// Checks the templates (placeholder).
pub fn check_templates(_dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    Ok(())
}
