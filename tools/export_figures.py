#!/usr/bin/env python3
"""Static copies of the report for papers and talks: every plotly figure of every page as SVG and
PNG (REPORT_DIR/figures/<figure id>.svg|png, through Plotly.toImage in headless Chromium) and the
index page printed to PDF (REPORT_DIR/report.pdf, Chromium's own print with backgrounds).

Figure ids are the ids of the figure containers (`plot-fig4-mean-50`, …); a page whose ids repeat
another page's gets its own page name as a prefix. Files are written atomically (temporary name,
then rename), and figures/ holds exactly this run's figures afterwards.

Usage: export_figures.py REPORT_DIR [--chromium /usr/bin/chromium] [--scale 2]
"""
import argparse
import base64
import os
import pathlib
import sys
import urllib.parse

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Plotly.toImage per container, at the size it is laid out with on the page.
TO_IMAGES = """async ([scale]) => {
  const out = [];
  for (const d of document.querySelectorAll('.plotly-graph-div')) {
    if (!d.id) continue;
    const w = Math.max(200, Math.round(d.getBoundingClientRect().width));
    const h = Math.max(150, Math.round(d.getBoundingClientRect().height));
    const svg = await Plotly.toImage(d, {format: 'svg', width: w, height: h});
    const png = await Plotly.toImage(d, {format: 'png', width: w, height: h, scale: scale});
    out.push([d.id, svg, png]);
  }
  return out;
}"""


def atomic_write(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def decode_data_url(url: str) -> bytes:
    head, _, body = url.partition(",")
    if head.endswith(";base64"):
        return base64.b64decode(body)
    return urllib.parse.unquote(body).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=pathlib.Path)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--scale", type=float, default=2.0, help="PNG pixels per CSS pixel")
    args = ap.parse_args()
    pages = sorted(args.report.glob("*.html"))
    if not pages:
        print(f"export_figures: no pages in {args.report}", file=sys.stderr)
        return 1
    figures = args.report / "figures"
    figures.mkdir(exist_ok=True)
    written: set[str] = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for p in pages:
            page.goto(p.resolve().as_uri(), wait_until="load", timeout=120_000)
            if page.locator(".plotly-graph-div").count() == 0:
                continue
            page.wait_for_function(
                "() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
                timeout=60_000,
            )
            for fig_id, svg, png in page.evaluate(TO_IMAGES, [args.scale]):
                name = fig_id if fig_id not in written else f"{p.stem}-{fig_id}"
                written.add(name)
                atomic_write(figures / f"{name}.svg", decode_data_url(svg))
                atomic_write(figures / f"{name}.png", decode_data_url(png))
        index = args.report / "index.html"
        if index.is_file():
            page.goto(index.resolve().as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
                timeout=60_000,
            )
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4", print_background=True,
                           margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            atomic_write(args.report / "report.pdf", pdf)
        browser.close()
    # Figures of earlier runs that this run no longer draws would mislead: remove them.
    for f in figures.iterdir():
        if f.suffix in (".svg", ".png") and f.stem not in written:
            f.unlink()
    print(f"export_figures: {len(written)} figures as SVG and PNG in {figures}; "
          f"{'report.pdf' if (args.report / 'report.pdf').is_file() else 'no index page, no PDF'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
