//! The report's page model and its askama templates (`templates/`): one page layout, one figure
//! model with its provenance line, one provenance partial, and tables. Text is escaped by the
//! templates; fields documented as markup (plotly divs, captions with inline math) are trusted
//! HTML built by this crate.

use crate::provenance::Provenance;
use askama::Template;

/// Escape text for HTML: askama's escaper, the one the templates use.
pub fn escape(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|e| e.to_string())
        .unwrap_or_default()
}

/// A figure of the report: plots, a caption and where it comes from.
pub struct Figure {
    /// Anchor id (unique on its page).
    pub id: String,
    /// Heading, plain text.
    pub title: String,
    /// Markup: the plotly divs (and any table) of the figure.
    pub plots: String,
    /// Markup: the caption (may hold inline math, `<code>` and `<em>`).
    pub caption: String,
    /// What reproduces it.
    pub provenance: FigureProvenance,
}

/// A notebook a figure or equation is derived in.
pub struct NotebookRef {
    /// File stem, e.g. `04_stylized_figures`.
    pub stem: String,
    /// Whether this build executed it (then it is linked).
    pub executed: bool,
}

impl NotebookRef {
    /// The notebook `stem`, linked when an executed copy named `stem*.html` is in `notebooks`.
    pub fn new(stem: &str, notebooks: &[String]) -> Self {
        Self {
            stem: stem.to_string(),
            executed: notebooks.iter().any(|n| n.starts_with(stem)),
        }
    }
}

/// The provenance line under a figure; empty fields are left out.
#[derive(Default)]
pub struct FigureProvenance {
    /// Commands that recompute the figure's data, in order (plain text).
    pub commands: Vec<String>,
    /// Hash of the configuration the commands ran with.
    pub config_hash: Option<String>,
    /// Notebook that derives and checks it.
    pub notebook: Option<NotebookRef>,
    /// Seeds of its random streams (name, value).
    pub seeds: Vec<(String, u64)>,
    /// The insta snapshot that pins its data, with a qualifier (plain text).
    pub snapshot: Option<String>,
    /// Data files, relative to the report's root.
    pub data: Vec<String>,
}

impl FigureProvenance {
    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
            && self.config_hash.is_none()
            && self.notebook.is_none()
            && self.seeds.is_empty()
            && self.snapshot.is_none()
            && self.data.is_empty()
    }

    /// The parts of the line as markup, each escaped here.
    pub fn parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if !self.commands.is_empty() {
            let cmds: Vec<String> = self
                .commands
                .iter()
                .map(|c| format!("<code>{}</code>", escape(c)))
                .collect();
            let mut part = format!("Command: {}", cmds.join(", then "));
            if let Some(h) = &self.config_hash {
                part.push_str(&format!(" (config hash <code>{}</code>)", escape(h)));
            }
            parts.push(part);
        }
        if let Some(nb) = &self.notebook {
            let stem = escape(&nb.stem);
            parts.push(if nb.executed {
                format!("Derived in: <a href=\"notebooks/{stem}.html\">{stem}</a>")
            } else {
                format!("Derived in: {stem} (not executed in this build)")
            });
        }
        if !self.seeds.is_empty() {
            let seeds: Vec<String> = self
                .seeds
                .iter()
                .map(|(k, v)| format!("{} {v}", escape(k)))
                .collect();
            parts.push(format!("Seeds: {}", seeds.join(", ")));
        }
        if let Some(s) = &self.snapshot {
            parts.push(format!("Pinned by: <code>{}</code>", escape(s)));
        }
        if !self.data.is_empty() {
            let links: Vec<String> = self
                .data
                .iter()
                .map(|p| {
                    let name = p.rsplit('/').next().unwrap_or(p);
                    format!("<a href=\"{}\">{}</a>", escape(p), escape(name))
                })
                .collect();
            parts.push(format!("Data: {}", links.join(", ")));
        }
        parts
    }
}

impl Figure {
    /// The figure as HTML (the `figure.html` template).
    ///
    /// # Errors
    /// The template failing (a formatting error of a field).
    pub fn render(&self) -> Result<String, askama::Error> {
        FigureTemplate { fig: self }.render()
    }
}

#[derive(Template)]
#[template(path = "figure.html")]
struct FigureTemplate<'a> {
    fig: &'a Figure,
}

/// A table of text cells (escaped when rendered).
#[derive(Default, Clone)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A CSV text without quoting (as this workspace writes its tables): the first line names the
    /// columns.
    pub fn from_csv(text: &str) -> Self {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
        Self {
            header: lines.next().map(split).unwrap_or_default(),
            rows: lines.map(split).collect(),
        }
    }

    /// The pipe tables of a Markdown text as one table: the first row is the header, separator
    /// rows are skipped and backticks dropped.
    pub fn from_markdown(md: &str) -> Self {
        let mut rows: Vec<Vec<String>> = md
            .lines()
            .filter(|l| l.trim_start().starts_with('|'))
            .map(|l| {
                l.trim()
                    .trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().replace('`', ""))
                    .collect::<Vec<_>>()
            })
            .filter(|cells| {
                !cells
                    .iter()
                    .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
            })
            .collect();
        if rows.is_empty() {
            return Self::default();
        }
        let header = rows.remove(0);
        Self { header, rows }
    }

    /// The table as HTML.
    ///
    /// # Errors
    /// The template failing (a formatting error of a cell).
    pub fn render(&self) -> Result<String, askama::Error> {
        TableTemplate { table: self }.render()
    }
}

#[derive(Template)]
#[template(path = "csv_table.html")]
struct TableTemplate<'a> {
    table: &'a Table,
}

/// The provenance footer of an executed notebook's page.
#[derive(Template)]
#[template(path = "notebook_footer.html")]
pub struct NotebookFooter<'a> {
    /// The report's provenance.
    pub prov: &'a Provenance,
    /// Always false: notebook pages list no stage timings.
    pub with_timings: bool,
}

/// One row of the equations page.
pub struct EquationRow {
    /// Anchor id derived from the label.
    pub anchor: String,
    /// Label, e.g. `eq:lookup-table`.
    pub label: String,
    /// The statement.
    pub statement: String,
    /// The Rust item that computes it.
    pub item: String,
    /// Path of the notebook.
    pub notebook: String,
    /// Stem of the notebook's file.
    pub stem: String,
    /// Whether the notebook was executed in this build.
    pub executed: bool,
    /// The test that guards it.
    pub test: String,
}

/// The equations page.
#[derive(Template)]
#[template(path = "equations.html")]
pub struct EquationsPage<'a> {
    /// Page title.
    pub title: &'a str,
    /// The report's provenance.
    pub prov: &'a Provenance,
    /// False: only the index lists stage timings.
    pub with_timings: bool,
    /// One row per labelled equation or figure.
    pub rows: Vec<EquationRow>,
}

/// A measured table of the performance page.
pub struct PerformanceSection {
    /// Anchor id.
    pub id: String,
    /// Heading.
    pub title: String,
    /// Markup: what was measured and how.
    pub text: String,
    /// The measurements.
    pub table: Table,
}

/// The performance page.
#[derive(Template)]
#[template(path = "performance.html")]
pub struct PerformancePage<'a> {
    /// Page title.
    pub title: &'a str,
    /// The report's provenance.
    pub prov: &'a Provenance,
    /// False: only the index lists stage timings.
    pub with_timings: bool,
    /// The machine the measurements were taken on, if recorded.
    pub machine: Option<String>,
    /// Empty when no measurements were supplied.
    pub sections: Vec<PerformanceSection>,
}

/// The report's index page.
#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    /// Page title.
    pub title: &'a str,
    /// The report's provenance.
    pub prov: &'a Provenance,
    /// True: the index lists the stage timings.
    pub with_timings: bool,
    /// The stylized figures.
    pub stylized: Vec<Figure>,
    /// Markup of the FWI forward-model section.
    pub fwi: String,
    /// Markup of the diffusion-prior section.
    pub prior: String,
    /// Markup of the DPS section.
    pub dps: String,
    /// Markup of the paper-scale section.
    pub paper: String,
    /// File names of the executed notebooks in `notebooks/`.
    pub notebooks: Vec<String>,
    /// `docs/equations.md`'s table.
    pub equations: Table,
    /// The README's differences section: its paragraph (plain text) and table.
    pub differences_intro: String,
    /// The README's differences table.
    pub differences: Table,
    /// Names of the stylized tables (CSV and Parquet in `data/stylized/`).
    pub stylized_tables: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_kept() {
        let fig = Figure {
            id: "f".into(),
            title: "a < b & \"c\"".into(),
            plots: "<div id=\"p\"></div>".into(),
            caption: "$x$ <em>y</em>".into(),
            provenance: FigureProvenance {
                commands: vec!["memprior x --out <DIR>".into()],
                data: vec!["data/a&b.csv".into()],
                ..Default::default()
            },
        };
        let html = fig.render().unwrap();
        assert!(
            html.contains("<h3>a &#60; b &#38; &#34;c&#34;</h3>")
                || html.contains("<h3>a &lt; b &amp; &quot;c&quot;</h3>"),
            "{html}"
        );
        assert!(html.contains("<div id=\"p\"></div>") && html.contains("<em>y</em>"));
        assert!(
            html.contains("<code>memprior x --out &#60;DIR&#62;</code>")
                || html.contains("<code>memprior x --out &lt;DIR&gt;</code>"),
            "{html}"
        );
        assert!(!html.contains("<DIR>"));
        // An empty provenance writes no meta line.
        let bare = Figure {
            provenance: FigureProvenance::default(),
            ..fig
        };
        assert!(!bare.render().unwrap().contains("class=\"meta\""));
    }

    #[test]
    fn tables_come_from_csv_and_markdown() {
        let t = Table::from_csv("a,b\n1,2\n\n3,<4>\n");
        assert_eq!(t.header, ["a", "b"]);
        assert_eq!(t.rows.len(), 2);
        assert!(!t.render().unwrap().contains("<4>"));
        let m = Table::from_markdown("x\n| k | `v` |\n|---|:-:|\n| 1 | `2` |\n");
        assert_eq!(m.header, ["k", "v"]);
        assert_eq!(m.rows, [vec!["1".to_string(), "2".to_string()]]);
    }
}
