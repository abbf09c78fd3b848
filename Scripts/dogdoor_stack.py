"""Starts and stops a whole DogDoor on one machine for the web app's browser test and benchmark: the latch owner
(simulated latch), the door daemon on the replay camera with a small freshly trained model, and dogdoor-web
with one user, each with its own sockets, events and logs in a scratch directory.

    stack = Stack(workdir)
    stack.start()            # builds what is missing, trains the model, starts the three processes
    client = stack.web_client()
    client.login()
    ...
    stack.stop()             # SIGTERM, then SIGKILL after a grace period

Binaries come from .build/release (or $DOGDOOR_BIN_DIR); missing ones are built there with
`swift build -c release --product NAME`. Every wait polls a condition with a deadline and fails naming what
it waited for, with the tails of the logs."""

from __future__ import annotations

import getpass
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN_DIR = os.path.join(ROOT, ".build", "release")
PRODUCTS = ("dogdoor-latch", "dogdoord", "dogdoor-web", "dogdoor-samples", "dogdoor-train")

USER = "owner"
PASSWORD = "correct horse battery staple"
# The whole day under curfew: the vote never opens the door by itself (its unlocks become `rejected_curfew`
# events, which keep snapshots), so the latch changes only when a test says so. Manual unlocks still work.
ALL_DAY_CURFEW = "00:00-12:00,12:00-00:00"


class StackError(RuntimeError):
    pass


def bin_dir() -> str:
    return os.environ.get("DOGDOOR_BIN_DIR") or DEFAULT_BIN_DIR


def ensure_binaries(directory: str, products=PRODUCTS, log: Callable[[str], None] = print) -> dict[str, str]:
    """Paths of the products in `directory`; in the default directory, missing ones are built first."""
    paths = {name: os.path.join(directory, name) for name in products}
    missing = [name for name, path in paths.items() if not os.access(path, os.X_OK)]
    if missing and os.path.abspath(directory) != os.path.abspath(DEFAULT_BIN_DIR):
        raise StackError(f"DOGDOOR_BIN_DIR={directory} lacks {', '.join(missing)}")
    for name in missing:
        log(f"building {name} (release; missing from {directory})")
        result = subprocess.run(["swift", "build", "-c", "release", "--product", name], cwd=ROOT,
                                capture_output=True, text=True)
        if result.returncode != 0 or not os.access(paths[name], os.X_OK):
            raise StackError(f"swift build -c release --product {name} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return paths


def weights_path() -> str:
    path = os.environ.get("DOGDOOR_WEIGHTS") or os.path.join(ROOT, "var", "weights", "vgg16-notop.safetensors")
    if not os.path.isfile(path):
        raise StackError(f"no VGG16 weights at {path}: Scripts/setup.sh imports them")
    return path


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1,
             alive: Callable[[], None] = lambda: None):
    """Polls `condition` until it returns something truthy (returned) or `timeout` seconds pass (StackError).
    `alive` is called between polls and may raise, e.g. when a process that should answer has exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        alive()
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def run_checked(argv: list[str], log_path: str, timeout: float, stdin: Optional[str] = None) -> float:
    """Runs a command to completion with its output in `log_path`; returns the seconds it took."""
    started = time.monotonic()
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        try:
            result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                    input=stdin.encode() if stdin is not None else None,
                                    stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise StackError(f"{os.path.basename(argv[0])} took longer than {timeout:.0f} s:\n{tail(log_path)}")
    if result.returncode != 0:
        raise StackError(f"{' '.join(argv)} failed with exit code {result.returncode}:\n{tail(log_path)}")
    return time.monotonic() - started


def tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError as error:
        return f"({path}: {error.strerror})"
    return "\n".join(text.splitlines()[-lines:])


def control_request(path: str, request: dict, timeout: float = 5.0) -> Optional[dict]:
    """One request on dogdoord's control socket (a JSON line in, a JSON line out: `ok`, `error` and the status's
    fields side by side); None when nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall((json.dumps(request) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data) if data.strip() else None
    except (OSError, ValueError):
        return None


def rss_kib(pid: int) -> Optional[int]:
    """The process's resident set (VmRSS) in KiB, from /proc/PID/status; None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium(log_path: str, window: tuple[int, int] = (412, 915)):
    """Debian's chromium, headless, under Debian's chromedriver (never a downloaded one), through selenium."""
    from selenium import webdriver

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise StackError(f"{path} is missing: Scripts/setup.sh installs chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", f"--window-size={window[0]},{window[1]}", "--disable-dev-shm-usage",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER, log_output=log_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    set_viewport(driver, window)
    return driver


def set_viewport(driver, size: tuple[int, int]) -> None:
    """Makes the page's viewport exactly `size` CSS pixels at one device pixel each (headless chromium's window
    is at least 500 pixels wide and loses some height to its frame); narrower than 800 is a phone (touch,
    mobile viewport)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 800})


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class WebClient:
    """A browser-less session with dogdoor-web (urllib): keeps the session cookie, reads the CSRF token from the
    pages and sends it back with every form."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf: Optional[str] = None

    def request(self, path: str, form: Optional[dict] = None, timeout: float = 10.0) -> tuple[int, str, float]:
        """GET (or POST `form`) and follow redirects: (status, body, seconds until the body was read)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base_url + path, data=data)
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                body = response.read().decode("utf-8", "replace")
                status = response.status
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")
            status = error.code
        elapsed = time.perf_counter() - started
        token = CSRF.search(body)
        if token:
            self.csrf = token.group(1)
        return status, body, elapsed

    def login(self, user: str = USER, password: str = PASSWORD) -> None:
        status, body, _ = self.request("/login")
        if status != 200 or self.csrf is None:
            raise StackError(f"GET /login answered {status} without a csrf field:\n{body[:500]}")
        status, body, _ = self.request("/login", {"csrf": self.csrf, "user": user, "password": password})
        if status != 200 or 'id="latch"' not in body:
            raise StackError(f"logging in as {user} ended with {status}, not the status page:\n{body[:500]}")

    def post(self, path: str, fields: dict) -> tuple[int, str, float]:
        if self.csrf is None:
            self.request("/")
        return self.request(path, {"csrf": self.csrf, **fields})


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: str


@dataclass
class Stack:
    """The three processes and their files under `workdir`."""

    workdir: str
    binaries: Optional[str] = None
    log: Callable[[str], None] = print
    curfew: str = ALL_DAY_CURFEW
    processes: list[Process] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        self.binaries = self.binaries or bin_dir()
        w = self.workdir
        self.data_dir = os.path.join(w, "data")
        self.model = os.path.join(w, "model.safetensors")
        self.frames_dir = os.path.join(w, "frames")
        self.events_dir = os.path.join(w, "events")
        self.dataset_dir = os.path.join(w, "dataset")
        self.latch_socket = os.path.join(w, "latch.sock")
        self.control_socket = os.path.join(w, "control.sock")
        self.users_file = os.path.join(w, "web-users")
        self.daemon_config = os.path.join(w, "dogdoord.toml")
        self.web_config = os.path.join(w, "web.toml")
        self.logs_dir = os.path.join(w, "logs")
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def path(self, product: str) -> str:
        return os.path.join(self.binaries, product)

    def pid(self, name: str) -> int:
        return next(p.popen.pid for p in self.processes if p.name == name)

    # ---- start -----------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Binaries, sample photos, a small model and the replay frames (timed in `timings`)."""
        os.makedirs(self.logs_dir, exist_ok=True)
        ensure_binaries(self.binaries, log=self.log)
        setup_log = os.path.join(self.logs_dir, "setup.log")
        if not os.path.isfile(self.model):
            self.timings["dataset"] = run_checked(
                [self.path("dogdoor-samples"), "dataset", "--output", self.data_dir, "--train-per-class", "16",
                 "--valid-per-class", "4", "--seed", "1"], setup_log, timeout=120)
            # Two epochs of the frozen-base recipe, no fine-tuning: a weak model (the tests are about the web
            # app, not about recognising Bo) in about 15 s on two cores. The default threshold (0.5) is kept:
            # calibrating one with --max-false-accept on 4 validation images per class is meaningless.
            self.timings["train"] = run_checked(
                [self.path("dogdoor-train"), "--data", self.data_dir, "--positive", "bo", "--output", self.model,
                 "--epochs", "2", "--fine-tune-epochs", "0", "--seed", "1", "--weights", weights_path()],
                setup_log, timeout=600)
        if not os.path.isdir(self.frames_dir):
            self.timings["replay"] = run_checked(
                [self.path("dogdoor-samples"), "replay", "--output", self.frames_dir, "--seed", "2"],
                setup_log, timeout=120)

    def start(self) -> None:
        """Prepares, then starts the latch owner, the daemon and the web app, each once it is ready. On failure
        everything started is stopped and StackError carries the logs' tails."""
        try:
            self.prepare()
            self._write_configs()
            self._start_latch()
            self._start_daemon()
            self._add_user()
            self._start_web()
        except BaseException as error:
            self.stop()
            if isinstance(error, StackError):
                raise StackError(f"{error}\n\n{self.log_tails()}") from None
            raise

    def _write_configs(self) -> None:
        # Own configuration files (never /etc/dogdoor's): every path points into the scratch directory. The
        # latch owner accepts the current user (root needs no entry, but a developer's account does).
        with open(self.daemon_config, "w") as f:
            f.write(
                f'[model]\npath = "{self.model}"\n\n'
                f'[camera]\nkind = "replay"\nreplay_folder = "{self.frames_dir}"\n\n'
                f'[latch]\nsocket = "{self.latch_socket}"\nkind = "simulated"\nclient_user = "{getpass.getuser()}"\n\n'
                f'[curfew]\nwindows = [{", ".join(json.dumps(w) for w in self.curfew.split(",") if w)}]\n\n'
                f'[events]\ndirectory = "{self.events_dir}"\n\n'
                f'[control]\nsocket = "{self.control_socket}"\n')
        with open(self.web_config, "w") as f:
            f.write(
                f'[web]\nlisten = "127.0.0.1:0"\nusers = "{self.users_file}"\ndaemon_config = "{self.daemon_config}"\n'
                f'control_socket = "{self.control_socket}"\nevents_directory = "{self.events_dir}"\n'
                f'dataset = "{self.dataset_dir}"\n')

    def _spawn(self, name: str, argv: list[str]) -> Process:
        log_path = os.path.join(self.logs_dir, f"{name}.log")
        log = open(log_path, "ab")
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=self.workdir)
        log.close()
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def _alive_check(self, process: Process) -> Callable[[], None]:
        def check():
            code = process.popen.poll()
            if code is not None:
                raise StackError(f"{process.name} exited with {code} while starting")
        return check

    def _start_latch(self) -> None:
        process = self._spawn("dogdoor-latch", [self.path("dogdoor-latch"), "--config", self.daemon_config])
        wait_for(lambda: os.path.exists(self.latch_socket), 20, "dogdoor-latch's socket",
                 alive=self._alive_check(process))

    def _start_daemon(self) -> None:
        process = self._spawn("dogdoord", [self.path("dogdoord"), "--config", self.daemon_config])

        def streaming():
            status = control_request(self.control_socket, {"command": "status"}) \
                if os.path.exists(self.control_socket) else None
            return status if status and status.get("camera") == "streaming" and status.get("latch") == "locked" \
                else None

        started = time.monotonic()
        wait_for(streaming, 60, "dogdoord to answer status with the camera streaming and the latch locked",
                 interval=0.2, alive=self._alive_check(process))
        self.timings["daemon ready"] = time.monotonic() - started

    def _add_user(self) -> None:
        run_checked([self.path("dogdoor-web"), "passwd", USER, "--password-stdin", "--config", self.web_config],
                    os.path.join(self.logs_dir, "setup.log"), timeout=60, stdin=PASSWORD + "\n")

    def _start_web(self) -> None:
        self.port = free_port()
        process = self._spawn("dogdoor-web", [self.path("dogdoor-web"), "--config", self.web_config,
                                              "--set", f"web.listen=127.0.0.1:{self.port}"])

        def answers():
            try:
                with urllib.request.urlopen(self.base_url + "/login", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(answers, 30, f"dogdoor-web to answer GET {self.base_url}/login", interval=0.1,
                 alive=self._alive_check(process))

    # ---- use -------------------------------------------------------------------------------------------

    def web_client(self) -> WebClient:
        return WebClient(self.base_url)

    def status(self) -> dict:
        """The daemon's status straight from its control socket (`{"ok": true, "mode": ..., "latch": ...}`)."""
        answer = control_request(self.control_socket, {"command": "status"})
        if not answer or not answer.get("ok"):
            raise StackError(f"dogdoord did not answer status on {self.control_socket}: {answer}")
        return answer

    def snapshots(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(os.path.join(self.events_dir, "snapshots")) if n.endswith(".jpg"))
        except FileNotFoundError:
            return []

    def events(self) -> list[dict]:
        try:
            with open(os.path.join(self.events_dir, "events.jsonl")) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def check_running(self) -> None:
        for process in self.processes:
            code = process.popen.poll()
            if code is not None:
                raise StackError(f"{process.name} has exited with {code}\n\n{self.log_tails()}")

    # ---- stop ------------------------------------------------------------------------------------------

    def stop(self, grace: float = 10.0) -> dict[str, int]:
        """SIGTERM to each process, newest first, then SIGKILL after `grace` seconds; the exit codes."""
        codes = {}
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
                try:
                    process.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.log(f"{process.name} ignored SIGTERM for {grace:.0f} s; killing it")
                    process.popen.kill()
                    process.popen.wait(timeout=grace)
            codes[process.name] = process.popen.returncode
        return codes

    def log_tails(self, lines: int = 30) -> str:
        names = [p.log for p in self.processes] + [os.path.join(self.logs_dir, "setup.log")]
        return "\n\n".join(f"---- {os.path.basename(path)} (last {lines} lines) ----\n{tail(path, lines)}"
                           for path in names if os.path.exists(path))
