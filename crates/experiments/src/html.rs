//! Emitting plotly figures as HTML, for the report and for evcxr notebooks.
//!
//! nbconvert drops evcxr's `application/vnd.plotly` output when exporting to HTML, so notebooks
//! print plotly.js once and each figure as inline `text/html` instead.

use plotly::Plot;

/// The plotly.js library (and MathJax tex-svg) as inline `<script>` tags.
pub fn plotly_js_sources() -> String {
    Plot::offline_js_sources()
}

/// Render `html` as a `text/html` output cell in an evcxr notebook.
pub fn display_html(html: &str) {
    println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
}

/// Load plotly.js into the notebook; call once, before the first figure.
pub fn notebook_init() {
    display_html(&plotly_js_sources());
}

/// Show a figure in the notebook with a fixed div id (stable across runs).
pub fn notebook_show(plot: &Plot, id: &str) {
    display_html(&plot.to_inline_html(Some(id)));
}
