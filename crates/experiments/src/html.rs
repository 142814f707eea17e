//! Emitting plotly figures as HTML, for the report and for evcxr notebooks.
//!
//! nbconvert drops evcxr's `application/vnd.plotly` output when exporting to HTML, so notebooks
//! print plotly.js once and each figure as inline `text/html` instead. evcxr keeps only the last
//! `text/html` output of a cell, so a notebook displays at most one figure or table per cell.

use plotly::Plot;

/// The JavaScript sources that the plotly crate embeds for offline use: (plotly.js, MathJax
/// tex-svg). Taken apart from the two inline `<script>` blocks of `Plot::offline_js_sources`.
pub fn offline_js() -> (String, String) {
    let all = Plot::offline_js_sources();
    let bodies: Vec<String> = all
        .split("</script>")
        .filter_map(|chunk| chunk.find('>').map(|i| chunk[i + 1..].to_string()))
        .filter(|b| !b.trim().is_empty())
        .collect();
    (
        bodies.first().cloned().unwrap_or_default(),
        bodies.get(1).cloned().unwrap_or_default(),
    )
}

/// Render `html` as a `text/html` output cell in an evcxr notebook.
pub fn display_html(html: &str) {
    println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
}

/// Load plotly.js into the notebook; call once, before the first figure. (MathJax comes with the
/// report's notebook template, so it is not loaded twice.)
pub fn notebook_init() {
    let (plotly_js, _) = offline_js();
    display_html(&format!(
        "<script type=\"text/javascript\">{plotly_js}</script>"
    ));
}

/// Show a figure in the notebook with a fixed div id (stable across runs).
pub fn notebook_show(plot: &Plot, id: &str) {
    display_html(&plot.to_inline_html(Some(id)));
}

#[cfg(test)]
mod tests {
    #[test]
    fn offline_sources_split_into_plotly_and_mathjax() {
        let (p, m) = super::offline_js();
        assert!(
            p.contains("plotly") && p.len() > 1_000_000,
            "plotly.js {} bytes",
            p.len()
        );
        assert!(
            m.contains("MathJax") && m.len() > 100_000,
            "MathJax {} bytes",
            m.len()
        );
    }
}
