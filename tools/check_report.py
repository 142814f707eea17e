#!/usr/bin/env python3
"""Open every page of the report in headless Chromium and fail on anything a reader would hit.

Checked per page: it loads; no console error; no failed request; no request that leaves the
machine (anything but file: and data: URLs); every plotly figure container has a rendered plot;
every notebook page has no error output and no panic in its stderr.

The static copies (tools/export_figures.py) are checked too: for every figure container of the
report's own pages, figures/<id>.svg parses as SVG with drawn elements and figures/<id>.png is a
PNG whose pixels are not all one colour; report.pdf is a PDF with at least one page.

Usage: check_report.py REPORT_DIR [--chromium /usr/bin/chromium]
Prints one line per page and a closing 'N passed, M failed' line; exits 1 on any failure.
"""
import argparse
import pathlib
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def check_page(browser, path: pathlib.Path) -> list[str]:
    problems: list[str] = []
    page = browser.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))

    def on_request(r):
        if not (r.url.startswith("file:") or r.url.startswith("data:") or r.url.startswith("blob:") or r.url == "about:blank"):
            problems.append(f"external request: {r.url}")

    page.on("request", on_request)
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
    figures = page.locator(".plotly-graph-div")
    n = figures.count()
    if n:
        # Plotly renders asynchronously; wait until every container has its SVG.
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
                timeout=60_000,
            )
        except Exception:
            empty = page.evaluate(
                "() => [...document.querySelectorAll('.plotly-graph-div')].filter(d => !d.querySelector('.main-svg')).map(d => d.id)"
            )
            problems.append(f"figure containers without a rendered plot: {empty}")
    if "/notebooks/" in path.as_posix():
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count()
        if errors:
            problems.append(f"{errors} error output(s) in the notebook")
        stderr = " ".join(page.locator("[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts())
        if "panicked at" in stderr:
            problems.append("a cell panicked")
        if page.locator(".jp-Cell").count() == 0:
            problems.append("no cells rendered")
        if n == 0:
            problems.append("no figure: every notebook ends with the figure its equations draw")
    # Math must have been typeset where the page carries any: MathJax replaces $…$ by SVG.
    if "$" in page.inner_text("body")[:200000] and page.locator("mjx-container").count() == 0:
        problems.append("math left untypeset (MathJax did not run)")
    ids = page.evaluate("() => [...document.querySelectorAll('.plotly-graph-div')].map(d => d.id).filter(Boolean)")
    page.close()
    return problems, n, ids


def svg_problem(path: pathlib.Path) -> str | None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        return f"{path.name}: not a parseable SVG ({e})"
    if not root.tag.endswith("svg"):
        return f"{path.name}: root element is {root.tag}, not svg"
    drawn = sum(1 for el in root.iter() if el.tag.rsplit("}", 1)[-1] in ("path", "rect", "text", "image", "circle"))
    return None if drawn >= 5 else f"{path.name}: only {drawn} drawn elements (blank?)"


def png_problem(path: pathlib.Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"{path.name}: {e}"
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return f"{path.name}: not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if width < 10 or height < 10:
        return f"{path.name}: {width} x {height} pixels"
    try:
        pixels = zlib.decompress(idat)
    except zlib.error as e:
        return f"{path.name}: corrupt image data ({e})"
    # Filter bytes and one background colour give a handful of distinct byte values; a plot many.
    return None if len(set(pixels)) > 16 else f"{path.name}: blank ({len(set(pixels))} distinct byte values)"


def pdf_problem(path: pathlib.Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"{path.name}: {e}"
    if not data.startswith(b"%PDF-"):
        return f"{path.name}: not a PDF"
    pages = data.count(b"/Type /Page") + data.count(b"/Type/Page") - data.count(b"/Type /Pages") - data.count(b"/Type/Pages")
    return None if pages >= 1 and len(data) > 10_000 else f"{path.name}: {pages} pages, {len(data)} bytes"


def check_static(report: pathlib.Path, page_ids: list[tuple[pathlib.Path, list[str]]]) -> list[str]:
    """The static copies of export_figures.py: one SVG and one PNG per figure of the report's own
    pages (named as the exporter names them), and the PDF of the index."""
    problems: list[str] = []
    seen: set[str] = set()
    for page, ids in page_ids:
        for fig_id in ids:
            name = fig_id if fig_id not in seen else f"{page.stem}-{fig_id}"
            seen.add(name)
            for check, suffix in ((svg_problem, ".svg"), (png_problem, ".png")):
                f = report / "figures" / f"{name}{suffix}"
                problem = check(f) if f.is_file() else f"figures/{f.name} missing"
                if problem:
                    problems.append(problem)
    pdf = report / "report.pdf"
    problem = pdf_problem(pdf) if pdf.is_file() else "report.pdf missing"
    if problem:
        problems.append(problem)
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=pathlib.Path)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    pages = sorted(args.report.glob("*.html")) + sorted((args.report / "notebooks").glob("*.html"))
    missing = [p for p in pages if not p.is_file()]
    if missing:
        print(f"missing pages: {missing}")
        return 1
    passed = failed = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        page_ids = []
        for p in pages:
            problems, n, ids = check_page(browser, p)
            if p.parent == args.report:
                page_ids.append((p, ids))
            rel = p.relative_to(args.report)
            if problems:
                failed += 1
                print(f"FAIL {rel} ({n} figures)")
                for pr in problems[:20]:
                    print(f"     {pr}")
            else:
                passed += 1
                print(f"ok   {rel} ({n} figures rendered)")
        browser.close()
    static = check_static(args.report, page_ids)
    figures = sum(len(ids) for _, ids in page_ids)
    if static:
        failed += 1
        print(f"FAIL static figures ({figures} figures, report.pdf)")
        for pr in static[:20]:
            print(f"     {pr}")
    else:
        passed += 1
        print(f"ok   static figures ({figures} as SVG and PNG, report.pdf)")
    print(f"browser check: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
