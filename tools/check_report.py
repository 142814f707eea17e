#!/usr/bin/env python3
"""Open every page of the report in headless Chromium and fail on anything a reader would hit.

Checked per page: it loads; no console error; no failed request; no request that leaves the
machine (anything but file: and data: URLs); every plotly figure container has a rendered plot;
every notebook page has no error output and no panic in its stderr.

Usage: check_report.py REPORT_DIR [--chromium /usr/bin/chromium]
Prints one line per page and a closing 'N passed, M failed' line; exits 1 on any failure.
"""
import argparse
import pathlib
import sys

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
    page.close()
    return problems, n


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
        for p in pages:
            problems, n = check_page(browser, p)
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
    print(f"browser check: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
