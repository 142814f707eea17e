//! Numerical checks for notebooks: compare an independent computation with the library, render
//! the comparison as a table, and panic if any check fails, so that executing a notebook
//! headless fails loudly when theory and code disagree.

use crate::html::display_html;

/// One comparison of an independent value with the library's.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is compared.
    pub quantity: String,
    /// The independent computation (quadrature, finite differences, Monte Carlo, dense algebra).
    pub independent: f64,
    /// The library's value.
    pub library: f64,
    /// Allowed |independent − library| (derived next to the check in the notebook).
    pub tolerance: f64,
}

impl Check {
    /// |independent − library|.
    pub fn error(&self) -> f64 {
        (self.independent - self.library).abs()
    }

    /// Within tolerance (NaN never passes).
    pub fn passed(&self) -> bool {
        self.error() <= self.tolerance
    }
}

/// A table of checks.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    title: String,
    rows: Vec<Check>,
}

impl Checks {
    /// An empty table with a title.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            rows: Vec::new(),
        }
    }

    /// Add a comparison.
    pub fn add(
        &mut self,
        quantity: impl Into<String>,
        independent: f64,
        library: f64,
        tolerance: f64,
    ) -> &mut Self {
        self.rows.push(Check {
            quantity: quantity.into(),
            independent,
            library,
            tolerance,
        });
        self
    }

    /// The rows.
    pub fn rows(&self) -> &[Check] {
        &self.rows
    }

    /// The table as HTML.
    pub fn to_html(&self) -> String {
        let mut s = format!(
            "<p><b>{}</b></p><table><tr><th>quantity</th><th>independent</th><th>library</th><th>|error|</th><th>tolerance</th><th></th></tr>",
            self.title
        );
        for r in &self.rows {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{:.10e}</td><td>{:.10e}</td><td>{:.2e}</td><td>{:.1e}</td><td>{}</td></tr>",
                r.quantity,
                r.independent,
                r.library,
                r.error(),
                r.tolerance,
                if r.passed() { "✓" } else { "✗ FAILED" }
            ));
        }
        s.push_str("</table>");
        s
    }

    /// Show the table in the notebook, then panic if any check failed.
    pub fn show_and_assert(&self) {
        display_html(&self.to_html());
        self.assert();
    }

    /// Panic with every failed row if any check failed.
    pub fn assert(&self) {
        let failed: Vec<String> = self
            .rows
            .iter()
            .filter(|r| !r.passed())
            .map(|r| {
                format!(
                    "{}: independent {} vs library {} (|error| {:.3e} > tol {:.1e})",
                    r.quantity,
                    r.independent,
                    r.library,
                    r.error(),
                    r.tolerance
                )
            })
            .collect();
        assert!(
            failed.is_empty(),
            "{}: {} check(s) failed:\n{}",
            self.title,
            failed.len(),
            failed.join("\n")
        );
    }
}

/// Render rows of strings as an HTML table (for sweep tables in notebooks).
pub fn table_html(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        s.push_str(&format!("<th>{h}</th>"));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{c}</td>"));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_checks_panic_and_passing_ones_do_not() {
        let mut ok = Checks::new("ok");
        ok.add("a", 1.0, 1.0 + 1e-12, 1e-10);
        ok.assert();
        let mut bad = Checks::new("bad");
        bad.add("b", 1.0, 1.1, 1e-3).add("nan", f64::NAN, 0.0, 1.0);
        assert!(!bad.rows()[1].passed());
        assert!(std::panic::catch_unwind(|| bad.assert()).is_err());
        assert!(ok.to_html().contains("✓"));
    }
}
