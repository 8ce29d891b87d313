"""What a page costs a reader's phone: its weight, and how long it takes to be ready.

Usage: ``python tools/pagespeed.py [--runs N] --site LABEL=SITE [--site ...] PAGE [PAGE ...]``,

for example ``python tools/pagespeed.py --site before=/tmp/before/_build/html --site
after=_build/html chapters/sequence/ctc_loss.html``.  Each built site is served on 127.0.0.1
and each page opened in Debian's chromium as a mid-range phone sees it: a 390 px wide viewport
and the CPU slowed 4x (the DevTools protocol's ``Emulation.setCPUThrottlingRate``), with
JavaScript on and off, in a fresh browser context each time, so nothing comes from the cache.
The sites, pages and both JavaScript settings take turns, so that a busy moment of the machine
falls on all of them alike; the table gives the median of the runs.

A page is ready when it has loaded, every file it asked for has arrived (fonts included), and,
if it typesets its math in the browser, MathJax has finished.  Its weight is what came over the
network (``Network.loadingFinished``; the local server sends nothing compressed).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True}
CPU_SLOWDOWN = 4

# Milliseconds from the start of the navigation until the page is ready (see the docstring).
READY = """
async () => {
  let typeset = 0;
  if (window.MathJax && window.MathJax.startup) {
    await window.MathJax.startup.promise;
    typeset = performance.now();
  }
  await document.fonts.ready;
  const loaded = performance.getEntriesByType("navigation")[0].loadEventEnd;
  const files = performance.getEntriesByType("resource").map((entry) => entry.responseEnd);
  return Math.max(loaded, typeset, ...files);
}
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # The browser drops connections it no longer needs when a context closes.
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


def serve(site: Path) -> str:
    """Serve ``site`` from a daemon thread; return its URL."""
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def measure(browser, url: str, javascript: bool) -> tuple[float, int, int]:
    """Open ``url`` once, as a phone would; return (seconds to ready, bytes, requests)."""
    context = browser.new_context(**PHONE, java_script_enabled=javascript)
    try:
        page = context.new_page()
        session = context.new_cdp_session(page)
        session.send("Network.enable")
        session.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        sizes: list[int] = []
        session.on("Network.loadingFinished", lambda done: sizes.append(done["encodedDataLength"]))
        page.goto(url, wait_until="load")
        ready = page.evaluate(READY) / 1000
        return ready, sum(sizes), len(sizes)
    finally:
        context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--site", action="append", required=True, help="LABEL=BUILT_SITE")
    parser.add_argument("pages", nargs="+", help="paths of pages inside the sites")
    options = parser.parse_args(argv)
    pages = options.pages
    sites = dict(site.split("=", 1) for site in options.site)
    urls = {label: serve(Path(site)) for label, site in sites.items()}

    from playwright.sync_api import sync_playwright

    results: dict[tuple[str, str, bool], list[tuple[float, int, int]]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(options.runs):
                for page in pages:
                    for label, url in urls.items():
                        for javascript in (True, False):
                            results.setdefault((page, label, javascript), []).append(
                                measure(browser, url + page, javascript)
                            )
        finally:
            browser.close()

    print(f"| page | site | JavaScript | weight | requests | ready at {CPU_SLOWDOWN}x "
          "(median) | ratio to JavaScript off |")
    print("|---|---|---|---|---|---|---|")
    for page in pages:
        for label in urls:
            off = statistics.median(ready for ready, _, _ in results[page, label, False])
            for javascript in (True, False):
                runs = results[page, label, javascript]
                ready = statistics.median(run[0] for run in runs)
                weight = statistics.median(run[1] for run in runs) / 1e6
                requests = statistics.median(run[2] for run in runs)
                print(f"| {Path(page).stem} | {label} | {'on' if javascript else 'off'} "
                      f"| {weight:.2f} MB | {requests:g} | {ready:.2f} s | {ready / off:.2f} |")


if __name__ == "__main__":
    main()
