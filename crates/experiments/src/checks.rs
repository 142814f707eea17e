//! Numerical checks for notebooks: compare an independent computation with the library, render
//! the comparison as a table, and panic if any check fails, so that executing a notebook
//! headless fails loudly when theory and code disagree.

use crate::html::display_html;

/// How a check's library value must relate to its independent value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// |independent − library| ≤ tolerance.
    Within,
    /// library ≤ independent (a bound a stated conclusion puts on the value).
    AtMost,
    /// library ≥ independent.
    AtLeast,
}

/// One comparison of an independent value with the library's.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is compared.
    pub quantity: String,
    /// The independent computation (quadrature, finite differences, Monte Carlo, dense algebra).
    pub independent: f64,
    /// The library's value.
    pub library: f64,
    /// Allowed |independent − library| (derived next to the check in the notebook); 0 for bounds.
    pub tolerance: f64,
    /// Agreement within the tolerance, or a one-sided bound.
    pub relation: Relation,
}

impl Check {
    /// |independent − library| for an agreement; by how much a bound is violated (0 if held).
    pub fn error(&self) -> f64 {
        match self.relation {
            Relation::Within => (self.independent - self.library).abs(),
            Relation::AtMost => (self.library - self.independent).max(0.0),
            Relation::AtLeast => (self.independent - self.library).max(0.0),
        }
    }

    /// Within tolerance, or the bound holds (NaN never passes).
    pub fn passed(&self) -> bool {
        match self.relation {
            Relation::Within => self.error() <= self.tolerance,
            Relation::AtMost => self.library <= self.independent,
            Relation::AtLeast => self.library >= self.independent,
        }
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
            relation: Relation::Within,
        });
        self
    }

    /// Assert a conclusion of the form value ≤ bound (the bound derived next to the check).
    pub fn at_most(&mut self, quantity: impl Into<String>, value: f64, bound: f64) -> &mut Self {
        self.rows.push(Check {
            quantity: quantity.into(),
            independent: bound,
            library: value,
            tolerance: 0.0,
            relation: Relation::AtMost,
        });
        self
    }

    /// Assert a conclusion of the form value ≥ bound.
    pub fn at_least(&mut self, quantity: impl Into<String>, value: f64, bound: f64) -> &mut Self {
        self.rows.push(Check {
            quantity: quantity.into(),
            independent: bound,
            library: value,
            tolerance: 0.0,
            relation: Relation::AtLeast,
        });
        self
    }

    /// The rows.
    pub fn rows(&self) -> &[Check] {
        &self.rows
    }

    /// The table as HTML. A bound row shows the bound in the independent column and the
    /// relation (value ≤ bound, value ≥ bound) in the tolerance column.
    pub fn to_html(&self) -> String {
        let mut s = format!(
            "<p><b>{}</b></p><table><tr><th>quantity</th><th>independent (or bound)</th><th>library</th><th>|error|</th><th>tolerance</th><th></th></tr>",
            self.title
        );
        for r in &self.rows {
            let tolerance = match r.relation {
                Relation::Within => format!("{:.1e}", r.tolerance),
                Relation::AtMost => "library ≤ bound".to_string(),
                Relation::AtLeast => "library ≥ bound".to_string(),
            };
            s.push_str(&format!(
                "<tr><td>{}</td><td>{:.10e}</td><td>{:.10e}</td><td>{:.2e}</td><td>{}</td><td>{}</td></tr>",
                r.quantity,
                r.independent,
                r.library,
                r.error(),
                tolerance,
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
            .map(|r| match r.relation {
                Relation::Within => format!(
                    "{}: independent {} vs library {} (|error| {:.3e} > tol {:.1e})",
                    r.quantity,
                    r.independent,
                    r.library,
                    r.error(),
                    r.tolerance
                ),
                Relation::AtMost => {
                    format!(
                        "{}: {} is above the bound {}",
                        r.quantity, r.library, r.independent
                    )
                }
                Relation::AtLeast => {
                    format!(
                        "{}: {} is below the bound {}",
                        r.quantity, r.library, r.independent
                    )
                }
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

    #[test]
    fn bounds_hold_or_fail_one_sided() {
        let mut c = Checks::new("bounds");
        c.at_most("a", 0.5, 1.0).at_least("b", 2.0, 1.0);
        c.assert();
        assert!(c.to_html().contains("library ≤ bound"));
        let mut bad = Checks::new("bad");
        bad.at_most("a", 1.5, 1.0)
            .at_least("b", 0.5, 1.0)
            .at_most("nan", f64::NAN, 1.0);
        assert!(bad.rows().iter().all(|r| !r.passed()));
        assert_eq!(bad.rows()[0].error(), 0.5);
        assert!(std::panic::catch_unwind(|| bad.assert()).is_err());
    }
}
