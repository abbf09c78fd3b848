"""The web app in a real browser (Debian's chromium, headless, driven by selenium), against the real stack: the
latch owner with a simulated latch, dogdoord on the replay camera with a small model trained for the test, and
dogdoor-web (Scripts/dogdoor_stack.py starts them from .build/release or $DOGDOOR_BIN_DIR).

Used as the owner would on a phone: log in, unlock for a minute, watch the status card follow a change made
elsewhere, lock, read the timeline, label a photo of the door, log out.

DOGDOOR_SCREENSHOTS=1 also saves the pages to docs/images/web-*.png (412x915, a phone; the timeline also at
1280x900)."""

from __future__ import annotations

import json
import os
import time

import pytest

import dogdoor_stack as ds

# selenium comes from Scripts/requirements-setup.txt: a missing one is a broken setup, not a reason to skip.
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PHONE = (412, 915)
DESKTOP = (1280, 900)
IMAGES = os.path.join(ds.ROOT, "docs", "images")
SCREENSHOTS = os.environ.get("DOGDOOR_SCREENSHOTS") == "1"
WAIT = 15  # seconds for a page or a change to show


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request):
    weights = os.environ.get("DOGDOOR_WEIGHTS") or os.path.join(ds.ROOT, "var", "weights", "vgg16-notop.safetensors")
    if not os.path.isfile(weights):
        pytest.skip("Scripts/setup.sh has not imported the weights (the test trains a small model)")
    work = tmp_path_factory.mktemp("web")
    stack = ds.Stack(str(work))
    started = time.monotonic()
    stack.start()  # on failure: StackError with the logs' tails
    print(f"stack up in {time.monotonic() - started:.1f} s: {stack.timings}")
    failed_before = request.session.testsfailed
    yield stack
    codes = stack.stop()
    if request.session.testsfailed > failed_before:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        text = f"\nlogs of the DogDoor stack in {work}:\n{stack.log_tails(40)}\n"
        if reporter is not None:
            reporter.write_line(text)
        else:
            print(text)
    assert all(code == 0 for code in codes.values()), \
        f"every process should stop cleanly on SIGTERM, exit codes: {codes}\n{stack.log_tails()}"


@pytest.fixture(scope="module")
def browser(stack):
    driver = ds.chromium(os.path.join(stack.logs_dir, "chromedriver.log"), PHONE)
    try:
        yield driver
    finally:
        driver.quit()


# ---- helpers ---------------------------------------------------------------------------------------------

def page_summary(driver) -> str:
    try:
        body = driver.find_element(By.TAG_NAME, "body").text
    except Exception:  # noqa: BLE001 - only for a message
        body = "(no body)"
    return f"at {driver.current_url}, page text:\n{body[:1500]}"


def wait_until(driver, condition, what: str, timeout: float = WAIT, ignored=()):
    """WebDriverWait with a failure that says what was expected and what the page showed. `ignored` names the
    exceptions that mean "not yet" (a page in the middle of loading), not failure."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(condition)
    except TimeoutException:
        pytest.fail(f"waited {timeout} s for {what}; {page_summary(driver)}")


def submit(driver, button) -> None:
    """Clicks a form's button and waits for the page it leads to (the POST, its redirect and the new page).

    The old page carries a mark in its window; the new page is there when a script finds no mark and a complete
    document. (Waiting for the old <html> element to go stale raced: in the middle of the navigation chromedriver
    answered "Node with given id does not belong to the document" as an unknown error, not as a stale element.)
    While the navigation runs, a script may also fail because its page went away: that means "not yet"."""
    driver.execute_script("window.dogdoorOldPage = true;")
    button.click()
    wait_until(driver,
               lambda d: d.execute_script(
                   "return window.dogdoorOldPage !== true && document.readyState === 'complete'"),
               "the form's answer page", ignored=(WebDriverException,))


def text_of(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text.strip()


def flash(driver) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, "p.flash")
    return found[0].text.strip() if found else ""


def log_in(driver, stack, password: str) -> None:
    driver.get(stack.base_url + "/login")
    assert driver.title.startswith("Log in"), f"GET /login should show the login page; {page_summary(driver)}"
    driver.find_element(By.NAME, "user").send_keys(ds.USER)
    driver.find_element(By.NAME, "password").send_keys(password)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button"))


def screenshot(driver, name: str, size=PHONE) -> None:
    if not SCREENSHOTS:
        return
    os.makedirs(IMAGES, exist_ok=True)
    if size != PHONE:
        ds.set_viewport(driver, size)
    try:
        # Only the images in view: the pages load the others lazily, when scrolled to.
        wait_until(driver, lambda d: d.execute_script(
            "return [...document.images].filter(i => i.getBoundingClientRect().top < innerHeight)"
            ".every(i => i.complete && i.naturalWidth > 0)"), "the images in view to load")
        path = os.path.join(IMAGES, f"web-{name}.png")
        assert driver.save_screenshot(path), f"could not save {path}"
        assert os.path.getsize(path) < 300_000, f"{path} is {os.path.getsize(path)} bytes, more than 300 KB"
    finally:
        if size != PHONE:
            ds.set_viewport(driver, PHONE)


# ---- tests -----------------------------------------------------------------------------------------------

def test_wrong_password_is_refused(stack, browser):
    browser.delete_all_cookies()
    log_in(browser, stack, "not the password")
    assert browser.current_url == stack.base_url + "/login", \
        f"a wrong password should leave the browser on /login; {page_summary(browser)}"
    assert "Wrong name or password" in flash(browser), \
        f"a wrong password should say 'Wrong name or password'; {page_summary(browser)}"
    assert not browser.find_elements(By.ID, "latch"), "a wrong password must not show the door's status"
    browser.get(stack.base_url + "/")
    assert browser.current_url == stack.base_url + "/login", \
        f"/ without a login should redirect to /login; {page_summary(browser)}"


def test_owner_steers_the_door_reads_the_timeline_and_labels_a_photo(stack, browser):
    base = stack.base_url
    browser.delete_all_cookies()
    browser.get(base + "/login")
    screenshot(browser, "login")

    # Log in: the status page, the door locked and in auto mode.
    log_in(browser, stack, ds.PASSWORD)
    assert browser.current_url == base + "/", f"logging in should lead to the status page; {page_summary(browser)}"
    assert text_of(browser, "#latch") == "locked", f"the door should start locked; {page_summary(browser)}"
    assert text_of(browser, "#mode").startswith("auto"), f"the door should start in auto mode; {page_summary(browser)}"

    # Unlock for one minute.
    minutes = browser.find_element(By.NAME, "minutes")
    minutes.clear()
    minutes.send_keys("1")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[name='action'][value='unlock']"))
    assert browser.current_url == base + "/", f"a door command should lead back to /; {page_summary(browser)}"
    assert "Unlocked for 1 min" in flash(browser), f"expected the flash 'Unlocked for 1 min'; {page_summary(browser)}"
    wait_until(browser, lambda d: text_of(d, "#latch") == "unlocked", "#latch to say unlocked")
    assert text_of(browser, "#mode").startswith("unlocked"), f"mode should be unlocked; {page_summary(browser)}"
    daemon = stack.status()
    assert (daemon["latch"], daemon["mode"]) == ("unlocked", "unlocked"), f"dogdoord says {daemon}"
    assert 0 < daemon.get("unlock_remaining_s", 0) <= 60, f"the unlock should last at most 60 s: {daemon}"
    screenshot(browser, "status")

    # Someone else locks (a second session); the open page follows within a refresh or two, without a reload.
    browser.execute_script("window.dogdoorNoReload = true;")
    other = stack.web_client()
    other.login()
    status, body, _ = other.post("/door", {"action": "lock"})
    assert status == 200 and "Locked:" in body, f"the second session's lock answered {status}: {body[:500]}"
    wait_until(browser, lambda d: text_of(d, "#latch") == "locked",
               "#latch to follow the lock from /api/status (the page's 2 s refresh)", timeout=10)
    assert browser.execute_script("return window.dogdoorNoReload === true"), \
        "#latch changed by a reload of the page, not by the script's refresh"
    assert text_of(browser, "#mode").startswith("locked"), \
        f"the refresh should show mode locked; {page_summary(browser)}"

    # Lock again from this page.
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[name='action'][value='lock']"))
    assert flash(browser).startswith("Locked:"), f"expected the flash 'Locked: ...'; {page_summary(browser)}"
    assert text_of(browser, "#latch") == "locked", f"the door should be locked; {page_summary(browser)}"

    # The timeline: all events, then only the manual ones, with the three commands by web:owner. (The daemon
    # answers a command before its event line is written: wait for the lines first.)
    def web_commands():
        return [e for e in stack.events() if e.get("kind") == "command" and e.get("by") == "web:owner"]

    ds.wait_for(lambda: len(web_commands()) >= 3, 10, "dogdoord to log the three commands", alive=stack.check_running)
    assert [e["command"] for e in web_commands()] == ["unlock", "lock", "lock"], \
        f"dogdoord logged the commands {web_commands()}"
    submit(browser, browser.find_element(By.LINK_TEXT, "Timeline"))
    assert browser.current_url == base + "/events", f"the Timeline link should open /events; {page_summary(browser)}"
    assert browser.find_elements(By.CSS_SELECTOR, "ol.timeline li"), f"the timeline is empty; {page_summary(browser)}"
    screenshot(browser, "timeline")
    screenshot(browser, "timeline-wide", DESKTOP)
    submit(browser, browser.find_element(By.LINK_TEXT, "Manual"))
    assert browser.current_url == base + "/events?filter=manual", \
        f"the Manual filter should open /events?filter=manual; {page_summary(browser)}"
    entries = browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")
    assert entries and all(e.get_attribute("class") == "manual" for e in entries), \
        f"the Manual filter should show only manual entries: {[e.get_attribute('class') for e in entries]}"
    # Each command's entry says what was asked and by whom: "command: unlock 60 s by web:owner".
    # Newest first; the first line is "DATE TIME command: ... by web:owner".
    commands = [e.text.split("\n")[0].split(" ", 2)[2] for e in entries if "command: " in e.text.split("\n")[0]]
    assert commands == ["command: lock by web:owner", "command: lock by web:owner",
                        "command: unlock 60 s by web:owner"], \
        f"expected the unlock and two locks, each with who sent it; found {[e.text for e in entries]}"

    # A photo of the door to label: the daemon keeps snapshots of refused votes, near misses and uncertain frames.
    ds.wait_for(stack.snapshots, 90, "dogdoord to keep a snapshot", interval=0.5, alive=stack.check_running)
    submit(browser, browser.find_element(By.LINK_TEXT, "Label"))
    assert browser.current_url == base + "/label", f"the Label link should open /label; {page_summary(browser)}"
    cards = browser.find_elements(By.CSS_SELECTOR, "ul.labels li.card")
    assert cards, f"the label page should list the daemon's snapshots {stack.snapshots()}; {page_summary(browser)}"
    screenshot(browser, "label")
    name = cards[0].get_attribute("id")
    assert name in stack.snapshots(), f"the first photo {name!r} is not one of the snapshots {stack.snapshots()}"
    positive = cards[0].find_element(By.CSS_SELECTOR, "button[name='label'][value='positive']")
    assert positive.text == "bo", f"the positive button should name the class bo, not {positive.text!r}"
    submit(browser, positive)
    assert browser.current_url == base + "/label", f"labelling should lead back to /label; {page_summary(browser)}"
    copies = [os.path.join(stack.dataset_dir, split, "bo", name) for split in ("train", "valid")]
    landed = [path for path in copies if os.path.isfile(path)]
    assert len(landed) == 1, f"the photo should be in exactly one of {copies}; found {landed}"
    with open(landed[0], "rb") as copy, open(os.path.join(stack.events_dir, "snapshots", name), "rb") as original:
        data = copy.read()
        assert data[:3] == b"\xff\xd8\xff" and data == original.read(), f"{landed[0]} is not the snapshot's JPEG"
    with open(os.path.join(stack.dataset_dir, "labels.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    assert records and {k: records[-1][k] for k in ("snapshot", "label", "by")} == \
        {"snapshot": name, "label": "positive", "by": "web:owner"}, f"labels.jsonl holds {records}"
    assert not browser.find_elements(By.ID, name), f"{name} is labelled and should leave the 'Not labelled yet' list"

    # Log out: the door's pages lead to the login page again.
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] button"))
    assert browser.current_url == base + "/login", f"logging out should lead to /login; {page_summary(browser)}"
    browser.get(base + "/")
    assert browser.current_url == base + "/login", \
        f"after logging out / should redirect to /login; {page_summary(browser)}"
    assert not browser.find_elements(By.ID, "latch"), "after logging out the status must not show"
