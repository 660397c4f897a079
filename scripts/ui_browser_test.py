"""The dashboard in a real browser: Debian's Chromium, driven headless by Playwright.

Runs `driftloop demo --serve` (the whole loop, then the API and the dashboard over the
demo's database), adds a request_id and a job error that carry markup, and then, page by
page: loads it, asserts what the DOM shows against the demo's own summary (the champion
version, the number of drift checks, the heatmap's cells), follows a check's link to its
report, checks that stored text stayed text (no injected script ran), that no page logged
a console error, and saves a screenshot of each page under OUT/screens/.

usage: ui_browser_test.py DRIFTLOOP_BINARY OUT [--docs DIR]
  --docs DIR  also write the overview and the drift history at README size to DIR
"""

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("DRIFTLOOP_CHROMIUM", "/usr/bin/chromium")
PAGES = {
    "overview": "/ui/",
    "drift": "/ui/drift",
    "models": "/ui/models",
    "jobs": "/ui/jobs",
    "performance": "/ui/performance",
}
MARKUP_REQUEST_ID = "<script>window.__driftloop_injected = 1</script>"
MARKUP_ERROR = '<img src=x onerror="window.__driftloop_injected = 2">'


def fail(message):
    print(f"ui browser test: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(binary, out):
    """Runs the demo with --serve; returns the process, its summary and the base URL."""
    port = free_port()
    demo_dir = os.path.join(out, "demo")
    log = open(os.path.join(out, "demo.log"), "w")
    process = subprocess.Popen(
        [binary, "demo", "--dir", demo_dir, "--json", "--serve", "--addr", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        fail(f"the demo printed no summary (exit {process.returncode}); see {log.name}")
    summary = json.loads(line)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    else:
        fail(f"the demo did not serve on {base}; see {log.name}")
    return process, summary, base, demo_dir


def add_markup(base, demo_dir):
    """A scored row whose request_id is a script, and a failed job whose error is markup."""
    features = {
        "sadness": "Usually", "euphoric": "Seldom", "exhausted": "Sometimes", "sleep_disorder": "Sometimes",
        "mood_swing": "YES", "suicidal_thoughts": "YES", "anorexia": "NO", "authority_respect": "NO",
        "try_explanation": "YES", "aggressive_response": "NO", "ignore_and_move_on": "NO",
        "nervous_breakdown": "YES", "admit_mistakes": "YES", "overthinking": "YES",
        "sexual_activity": 3, "concentration": "3 From 10", "optimism": "4",
    }
    body = json.dumps({"request_id": MARKUP_REQUEST_ID, "features": features}).encode()
    request = urllib.request.Request(base + "/v1/predict", body, {"Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(request, timeout=10))
    check(answer.get("row_id"), f"predict answered {answer}")
    db = sqlite3.connect(os.path.join(demo_dir, "driftloop.db"), timeout=10)
    with db:
        db.execute(
            "INSERT INTO jobs (kind, status, attempts, error) VALUES ('train', 'failed', 3, ?)",
            (MARKUP_ERROR,),
        )
    db.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("out")
    parser.add_argument("--docs")
    args = parser.parse_args()
    screens = os.path.join(args.out, "screens")
    os.makedirs(screens, exist_ok=True)
    check(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")

    process, summary, base, demo_dir = start_demo(args.binary, args.out)
    try:
        if args.docs:
            docs_screenshots(base, args.docs)
        add_markup(base, demo_dir)
        run_browser(base, summary, screens)
    finally:
        process.terminate()
        process.wait(timeout=20)
    print(
        f"ui browser test: {len(PAGES)} pages and a report in Chromium, champion v{summary['champion_version']}, "
        f"{summary['drift_checks']} drift checks, no console error; screenshots in {screens}",
        file=sys.stderr,
    )


def docs_screenshots(base, docs):
    """The README's pictures of the overview and the drift history, before any markup is added."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name, path in (("overview", PAGES["overview"]), ("drift", PAGES["drift"])):
            page.goto(base + path, wait_until="load")
            page.screenshot(path=os.path.join(docs, f"dashboard-{name}.png"), full_page=True)
        browser.close()


def run_browser(base, summary, screens):
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        page.on("dialog", lambda d: errors.append(f"{page.url}: a dialog opened: {d.message}"))

        def visit(name, path):
            response = page.goto(base + path, wait_until="load")
            check(response is not None and response.status == 200, f"{path} answered {response and response.status}")
            check(page.evaluate("window.__driftloop_injected") is None, f"{path}: injected markup ran")
            page.screenshot(path=os.path.join(screens, f"{name}.png"), full_page=True)

        # The overview: the champion, the checks, the newest rows with the markup as text.
        visit("overview", PAGES["overview"])
        version = page.get_attribute("#champion [data-version]", "data-version")
        check(version == str(summary["champion_version"]), f"overview shows champion {version}, the demo ended with {summary['champion_version']}")
        checks = page.get_attribute("[data-checks]", "data-checks")
        check(checks == str(summary["drift_checks"]), f"overview counts {checks} drift checks, the demo ran {summary['drift_checks']}")
        rows = int(page.get_attribute("[data-rows]", "data-rows"))
        check(rows == 120 + summary["rows_served"] + 1, f"overview counts {rows} rows")
        texts = page.locator("table.rows td").all_inner_texts()
        check(MARKUP_REQUEST_ID in texts, "the request_id with a script is shown as text in the newest rows")
        check(any(MARKUP_ERROR in t for t in page.locator("table.events td").all_inner_texts()), "the failed job's error is an event, as text")

        # The drift history: one heatmap column per check, one cell per feature column and check.
        visit("drift", PAGES["drift"])
        n_checks = page.locator("#heatmap th.check").count()
        check(n_checks == min(summary["drift_checks"], 30), f"the heatmap has {n_checks} checks, the demo ran {summary['drift_checks']}")
        n_columns = page.locator("#heatmap tbody tr").count()
        check(n_columns == 17, f"the heatmap has {n_columns} rows, the dataset 17 feature columns")
        cells = page.locator("#heatmap td.cell").count()
        check(cells == n_checks * n_columns, f"the heatmap has {cells} cells, expected {n_checks} x {n_columns}")
        check(page.locator("#heatmap td.cell.drifted").count() > 0, "the shifted columns are marked drifted")
        check(page.locator("#share-chart svg circle").count() == n_checks, "the share line has a dot per check")

        # A check's report, through its link.
        link = page.locator("table.checks a.report").first
        href = link.get_attribute("href")
        link.click()
        page.wait_for_load_state("load")
        check(page.url == base + href, f"the report link went to {page.url}")
        check("drift job" in page.title(), f"the report's title is {page.title()!r}")
        page.screenshot(path=os.path.join(screens, "report.png"), full_page=True)

        visit("models", PAGES["models"])
        versions = page.locator("table.versions tbody tr").count()
        check(versions == summary["models_trained"], f"models lists {versions} versions, the demo trained {summary['models_trained']}")
        page.locator(f"table.versions a[href='/ui/models/{summary['champion_version']}']").first.click()
        page.wait_for_load_state("load")
        check(page.locator("table.confusion").count() == 1, "a version's page shows its confusion matrix")
        page.screenshot(path=os.path.join(screens, "model.png"), full_page=True)

        visit("jobs", PAGES["jobs"] + "?status=failed")
        errors_shown = page.locator("span.job-error").all_inner_texts()
        check(MARKUP_ERROR in errors_shown, f"the job error is shown as text: {errors_shown}")
        visit("jobs", PAGES["jobs"])

        visit("performance", PAGES["performance"])
        checks_listed = page.locator("table.performance tbody tr").count()
        check(checks_listed == summary["performance_checks"], f"performance lists {checks_listed} checks, the demo ran {summary['performance_checks']}")
        # A dot per check that had labelled rows to score (an insufficient one may have none).
        scored = sum(1 for row in page.locator("table.performance tbody tr").all()
                     if row.locator("td").nth(4).inner_text().strip() != "–")
        points = page.locator("#accuracy-chart svg circle").count()
        check(points == scored, f"the accuracy chart has {points} points for {scored} scored checks")

        browser.close()
    check(not errors, "console errors: " + "; ".join(errors))


if __name__ == "__main__":
    main()
