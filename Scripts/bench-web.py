#!/usr/bin/env python3
"""Benchmark of the web app, dogdoor-web, beside a running door: response times, browser page loads and memory.

Starts the whole stack as Scripts/tests/test_web_browser.py does (Scripts/dogdoor_stack.py: the latch owner with a
simulated latch, dogdoord on the replay camera with a small model trained here, dogdoor-web with one user), from
the release binaries (.build/release, or $DOGDOOR_BIN_DIR; missing ones are built). Then:

  1. idle: samples dogdoor-web's resident memory (VmRSS) for a few seconds before anyone uses it;
  2. load: logs in (session cookie and CSRF token, with urllib) and for --seconds requests the status page `/`,
     `/api/status` and `/metrics` once a second each, timing every response (a new connection each time, body
     read) and sampling the VmRSS of dogdoor-web and dogdoord every second;
  3. browser: logs in with headless chromium (selenium) and loads `/` and `/events` 10 times each, reading
     Navigation Timing (loadEventEnd - startTime: request, HTML, style sheet, script, images, load event).

Prints one table. The issue's targets: dogdoor-web under 60 MiB resident while idle and while serving a page a
second; a page loads in under 300 ms.

Usage: .venv/bin/python Scripts/bench-web.py [--seconds 60] [--keep]
Needs: Scripts/setup.sh done (weights, chromium, chromium-driver, selenium). Run it on a quiet machine: a Swift
build at the same time makes every number worse (the script says so when it sees one).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dogdoor_stack as ds  # noqa: E402

PAGES = ("/", "/api/status", "/metrics")
BROWSER_PAGES = ("/", "/events")
BROWSER_LOADS = 10
IDLE_SECONDS = 5
WEB_RSS_TARGET_MIB = 60
PAGE_LOAD_TARGET_MS = 300


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def builds_running() -> list[str]:
    result = subprocess.run(["pgrep", "-af", "swift-build"], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if "pgrep" not in line]


def mib(kib: int) -> float:
    return kib / 1024


def sleep_until(deadline: float) -> None:
    """Sleeps until the monotonic clock reaches `deadline` (returns at once if it already has)."""
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(remaining, 0.05))


class Memory:
    """VmRSS samples (KiB) of the two processes."""

    def __init__(self, stack: ds.Stack):
        self.pids = {"web": stack.pid("dogdoor-web"), "daemon": stack.pid("dogdoord")}
        self.samples: dict[str, list[int]] = {"web": [], "daemon": []}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            value = ds.rss_kib(pid)
            if value is None:
                raise ds.StackError(f"{name} (pid {pid}) has gone")
            self.samples[name].append(value)


def measure_idle(memory: Memory) -> list[int]:
    start = time.monotonic()
    idle = []
    for i in range(IDLE_SECONDS):
        sleep_until(start + i)
        idle.append(ds.rss_kib(memory.pids["web"]) or 0)
    return idle


def measure_requests(stack: ds.Stack, memory: Memory, seconds: int) -> dict[str, list[float]]:
    client = stack.web_client()
    client.login()
    times: dict[str, list[float]] = {page: [] for page in PAGES}
    start = time.monotonic()
    for i in range(seconds):
        sleep_until(start + i)
        for page in PAGES:
            status, body, elapsed = client.request(page)
            if status != 200:
                raise ds.StackError(f"GET {page} answered {status}: {body[:300]}")
            if page == "/" and 'id="latch"' not in body:
                raise ds.StackError(f"GET / is not the status page (logged out?): {body[:300]}")
            times[page].append(elapsed * 1000)
        memory.sample()
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{seconds} s: GET / {times['/'][-1]:.1f} ms, dogdoor-web "
                  f"{mib(memory.samples['web'][-1]):.1f} MiB", flush=True)
    return times


def measure_browser(stack: ds.Stack, memory: Memory) -> dict[str, list[float]]:
    from selenium.webdriver.common.by import By

    driver = ds.chromium(os.path.join(stack.logs_dir, "chromedriver.log"))
    try:
        driver.get(stack.base_url + "/login")
        driver.find_element(By.NAME, "user").send_keys(ds.USER)
        driver.find_element(By.NAME, "password").send_keys(ds.PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
        ds.wait_for(lambda: driver.find_elements(By.ID, "latch"), 15, "the status page after logging in")
        loads: dict[str, list[float]] = {page: [] for page in BROWSER_PAGES}
        for page in BROWSER_PAGES:
            for _ in range(BROWSER_LOADS):
                driver.get(stack.base_url + page)
                if driver.current_url != stack.base_url + page:
                    raise ds.StackError(f"the browser ended at {driver.current_url}, not {page}")
                # driver.get returns after the load event; loadEventEnd is set once its handlers have run.
                timing = ds.wait_for(lambda: driver.execute_script(
                    "const n = performance.getEntriesByType('navigation')[0];"
                    "return n && n.loadEventEnd > 0 ? n.loadEventEnd - n.startTime : null;"),
                    10, f"Navigation Timing of {page}", interval=0.02)
                loads[page].append(float(timing))
                memory.sample()
        return loads
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60,
                        help="length of the load run (one request per page a second)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, events, model)")
    args = parser.parse_args()
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")

    builds = builds_running()
    work = tempfile.mkdtemp(prefix="dogdoor-bench-web-")
    stack = ds.Stack(work)
    try:
        print(f"starting the stack in {work} (trains a small model first, about 20 s)...", flush=True)
        stack.start()
        memory = Memory(stack)
        memory.sample()
        daemon_start = memory.samples["daemon"][-1]
        print(f"idle for {IDLE_SECONDS} s...", flush=True)
        idle = measure_idle(memory)
        print(f"serving {', '.join(PAGES)} once a second for {args.seconds} s...", flush=True)
        times = measure_requests(stack, memory, args.seconds)
        web_during = list(memory.samples["web"][1:])
        print(f"loading {' and '.join(BROWSER_PAGES)} {BROWSER_LOADS} times each in headless chromium...", flush=True)
        loads = measure_browser(stack, memory)
        memory.sample()
        daemon_end = memory.samples["daemon"][-1]
        web_max = max(memory.samples["web"] + idle)
        stack.check_running()
    except ds.StackError as error:
        print(f"bench-web: {error}\n\n{stack.log_tails()}", file=sys.stderr)
        return 1
    finally:
        codes = stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    rows = []
    for page in PAGES:
        rows.append((f"GET {page} (urllib)", f"{statistics.median(times[page]):.1f} ms", f"{max(times[page]):.1f} ms",
                     f"{len(times[page])} requests"))
    for page in BROWSER_PAGES:
        rows.append((f"browser page load {page}", f"{statistics.median(loads[page]):.0f} ms",
                     f"{max(loads[page]):.0f} ms", f"target < {PAGE_LOAD_TARGET_MS} ms: "
                     + ("met" if statistics.median(loads[page]) < PAGE_LOAD_TARGET_MS else "MISSED")))
    idle_value = statistics.median(idle)
    rows.append(("dogdoor-web RSS idle", f"{mib(idle_value):.1f} MiB", f"{mib(max(idle)):.1f} MiB",
                 f"after start, before the load ({IDLE_SECONDS} samples)"))
    rows.append(("dogdoor-web RSS during load", f"{mib(statistics.median(web_during)):.1f} MiB",
                 f"{mib(web_max):.1f} MiB", f"target < {WEB_RSS_TARGET_MIB} MiB: "
                 + ("met" if web_max < WEB_RSS_TARGET_MIB * 1024 else "MISSED")))
    rows.append(("dogdoord RSS at start", f"{mib(daemon_start):.1f} MiB", "", "once ready"))
    rows.append(("dogdoord RSS at end", f"{mib(daemon_end):.1f} MiB", f"{mib(max(memory.samples['daemon'])):.1f} MiB",
                 "after the browser runs"))

    print()
    print(f"dogdoor-web benchmark: {args.seconds} s at one request per page a second; binaries {stack.binaries}")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for when, running in (("started", builds), ("ended", builds_running())):
        if running:
            print(f"WARNING: a Swift build was running when the benchmark {when}: {running[0][:100]}")
    header = ("", "median", "max", "")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    print(f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]:>{widths[2]}}  {header[3]}")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
    if any(code != 0 for code in codes.values()):
        print(f"WARNING: not every process stopped cleanly on SIGTERM: {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
