//! The page, compiled into the binary: nothing to install or serve beside
//! it. Plain HTML, CSS and JavaScript (no framework, no build step); the
//! chart is drawn on a canvas.

/// `/`.
pub(super) const INDEX_HTML: &str = include_str!("assets/index.html");
/// `/app.js`.
pub(super) const APP_JS: &str = include_str!("assets/app.js");
/// `/style.css`.
pub(super) const STYLE_CSS: &str = include_str!("assets/style.css");
