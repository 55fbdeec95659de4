"""The browser site's size and speed in headless Chromium, offline. Run on demand, never in CI:

    python browser/build.py && python tests/benchmarks/browser_site.py [--runs 3] [--shots DIR]

- size: the built folder, and gzipped file by file (what a server sending gzip transfers);
- playground ready: from navigation until Pyodide is loaded and deltagrad imported, in a fresh
  browser context each run (nothing cached), and the page's own count from its first script;
- notebook 01: from navigation until every cell has run (``?run=all``), and the cells alone.

Offline without slowing the page: Chromium sends every request that is not to this machine to a
proxy that does not exist (so it fails), and every request is recorded and the ones outside the
site are listed at the end. Routing requests through Playwright instead (``context.route``) holds
each one until this script answers it: a round trip per request that the page does not pay for.

The machine's load average is printed with the figures: on a shared machine they vary with it,
and with another program's bursts the same build takes 3.6 s or 6 s; the fastest of the runs is
printed too, as the nearest to a quiet machine.
So is the CPU time the browser's processes spent getting the playground ready (Linux, from
/proc), which depends much less on the load; part of it runs on background threads (WebAssembly
is compiled again, optimised, while the page already runs), so an idle machine waits less.
``--shots DIR`` saves screenshots of the playground (the neuron example run, its drawing, its
player at step 2) and of notebook 01 in the page.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import statistics
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DELTAGRAD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--proxy-server=http://127.0.0.1:9"]  # no proxy there: only loopback requests get through
TIMEOUT = 300_000  # ms


def sizes(site: Path) -> tuple[int, int, int]:
    """(files, bytes, gzipped bytes) of the built site."""
    files = [p for p in site.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    zipped = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return len(files), raw, zipped


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(site: Path) -> str:
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_port}/"


def fresh_page(browser, origin: str, outside: list[str]):
    """A page in a new context (empty cache); requests outside ``origin`` go into ``outside``."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})

    def record(request) -> None:
        if not request.url.startswith((origin, "data:", "blob:")):
            outside.append(request.url)

    context.on("request", record)
    return context, context.new_page()


def cpu_seconds() -> float:
    """User + system CPU time of this process's descendants (the browser's processes), with that
    of the ones that ended, which their parent collected."""
    parents, times = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid = int(stat.parent.name)
        parents[pid], times[pid] = int(fields[1]), sum(int(f) for f in fields[11:15])
    mine = {os.getpid()}
    changed = True
    while changed:  # add children of the processes found until no new one turns up
        changed = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                changed = True
    total = sum(times[pid] for pid in mine if pid != os.getpid())
    return total / os.sysconf("SC_CLK_TCK")


def playground(browser, origin, outside, shots: Path | None) -> dict:
    """Seconds until ready (wall, the page's own count, browser CPU), the page's steps, and the
    first Run of the neuron example right after (it waits for what loads after ready)."""
    context, page = fresh_page(browser, origin, outside)
    cpu = cpu_seconds()
    begin = time.perf_counter()
    page.goto(origin + "playground.html")
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT)
    figures = {"wall": time.perf_counter() - begin, "cpu": cpu_seconds() - cpu,
               "inside": page.evaluate("globalThis.deltagradReady"),
               "steps": page.evaluate("globalThis.deltagradSteps ?? {}")}
    begin = time.perf_counter()
    page.select_option("#example", "neuron")
    page.click("#run")
    page.wait_for_selector("#output[data-runs='1']", timeout=TIMEOUT)
    figures["first run"] = time.perf_counter() - begin
    if shots is not None:
        page.screenshot(path=str(shots / "playground-neuron.png"), full_page=True)
        film = page.locator("#output .dg-film")
        for _ in range(2):
            film.locator("[data-go=next]").click()
        film.screenshot(path=str(shots / "playground-player-step-2.png"))
    context.close()
    return figures


def notebook(browser, origin, outside, shots: Path | None) -> tuple[float, dict]:
    context, page = fresh_page(browser, origin, outside)
    begin = time.perf_counter()
    page.goto(origin + "notebook.html?nb=01-values-and-graphs.ipynb&run=all")
    page.wait_for_selector("body[data-done]", timeout=TIMEOUT)
    wall = time.perf_counter() - begin
    done = json.loads(page.get_attribute("body", "data-done"))
    if shots is not None:
        page.screenshot(path=str(shots / "notebook-01-top.png"))
        page.locator(".cell.code").nth(8).scroll_into_view_if_needed()  # a film strip
        page.screenshot(path=str(shots / "notebook-01-film-strip.png"))
        page.screenshot(path=str(shots / "notebook-01-full.png"), full_page=True)
    context.close()
    return wall, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "browser" / "_build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shots", type=Path, help="save screenshots into this folder")
    args = parser.parse_args()
    if not (args.site / "site.json").is_file():
        raise SystemExit(f"no built site in {args.site}: run python browser/build.py first")
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)

    count, raw, zipped = sizes(args.site)
    print(f"site: {count} files, {raw / 1e6:.1f} MB, {zipped / 1e6:.1f} MB gzipped")
    origin, outside = serve(args.site), []
    ready, cpus, first_runs, nb_wall, nb_cells = [], [], [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for k in range(args.runs):
            shots = args.shots if k == args.runs - 1 else None
            load = os.getloadavg()[0]
            figures = playground(browser, origin, outside, shots)
            ready.append(figures["wall"])
            cpus.append(figures["cpu"])
            first_runs.append(figures["first run"])
            wall, done = notebook(browser, origin, outside, shots)
            nb_wall.append(wall)
            nb_cells.append(done["seconds"])
            print(f"run {k + 1}: load average {load:.1f}; playground ready {ready[-1]:.2f} s "
                  f"(page's own count {figures['inside']:.2f} s, browser CPU {cpus[-1]:.2f} s), "
                  f"then its first Run {first_runs[-1]:.2f} s; notebook 01: "
                  f"{done['ok']}/{done['cells']} cells ok, all done {wall:.2f} s after navigation "
                  f"(cells {done['seconds']:.2f} s)")
            if figures["steps"]:
                print("  the playground's steps, seconds after navigation: " + ", ".join(
                    f"{step} {at:.2f}" for step, at in figures["steps"].items()))
        browser.close()
    print(f"median of {args.runs}: playground ready {statistics.median(ready):.2f} s "
          f"(fastest {min(ready):.2f} s; browser CPU {statistics.median(cpus):.2f} s), first Run "
          f"{statistics.median(first_runs):.2f} s, notebook 01 all cells done "
          f"{statistics.median(nb_wall):.2f} s (cells alone {statistics.median(nb_cells):.2f} s)")
    print(f"requests outside the site: {outside or 'none'}")


if __name__ == "__main__":
    main()
