"""The control page in a real browser: Debian's Chromium, Pixel 7 emulation, against the
firmware image running on the virtual board (both runtimes).

SAVE_SCREENSHOTS=1 also writes tools/screenshots/control-page.png (the README's picture).
"""

import json
import os
import time

import launch
import paths
import pytest

CPYTHON_ONLY = True
pytestmark = pytest.mark.browser

LED_PIN, BUTTON_PIN, PWM_PIN = 16, 4, 18  # boards/virtual.json
PAGE_BUDGET = 20 * 1024  # bytes transferred for a cold load (issue 6)


def _until(check, timeout=10, step=0.02):
    """Poll ``check()`` until it returns something truthy (bounded); return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def _duty(dev, pin):
    pwm = dev.control(op="pwm", pin=pin)["pwm"]
    return (pwm or {}).get("duty_u16", 0)


def _open(phone, dev):
    page = phone.new_page()
    page.transferred = []
    page.foreign = []
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))

    def on_finished(request):
        if not request.url.startswith(dev.url):
            page.foreign.append(request.url)
        sizes = request.sizes()
        page.transferred.append(sizes["responseBodySize"] + sizes["responseHeadersSize"])

    page.on("requestfinished", on_finished)
    page.on("request", lambda r: None if r.url.startswith(dev.url) else page.foreign.append(r.url))
    page.goto(dev.url + "/")
    page.wait_for_selector("[data-device=led]")
    page.wait_for_selector("#conn.live")
    return page


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_page_drives_the_board_and_shows_button_presses(device_factory, phone, runtime, tmp_path):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    assert page.foreign == []  # no external resources: works on the device's own AP
    # Its icon is inline: no request for /favicon.ico (a 404 in the console otherwise).
    assert page.evaluate("document.querySelector('link[rel=icon]').href.startsWith('data:image/svg+xml')")
    assert not [url for url in page.requested if url.endswith("/favicon.ico")]

    # One card per device, built from the device list.
    kinds = page.eval_on_selector_all("[data-device]", "els => els.map(e => e.dataset.device + ':' + e.dataset.kind)")
    assert kinds == ["led:led", "status:led", "button:button", "pwm:pwm"]
    # Named as the house knows it: the hostname, not the board file's model name.
    hostname = dev.get("/api/board").json()["hostname"]
    assert page.title() == hostname and page.text_content("#title") == hostname

    # Toggle the LED: the simulated pin changes.
    switch = page.get_by_role("switch", name="Desk lamp on/off")
    assert not switch.is_checked()
    switch.tap()
    assert _until(lambda: _duty(dev, LED_PIN) > 0), dev.output
    assert dev.get("/api/devices/led").json()["state"]["on"] is True

    # Move the PWM slider: the duty cycle follows.
    slider = page.get_by_label("Fan Level")
    slider.fill("75")
    assert _until(lambda: abs(_duty(dev, PWM_PIN) - 0.75 * 65535) < 2), _duty(dev, PWM_PIN)
    assert page.text_content("#s-pwm-duty-v") == "75%"

    # Press the simulated button: the page shows it within 300 ms.
    last = page.locator("[data-device=button] [data-last]")
    assert last.get_attribute("data-last") == ""
    dev.control(op="set", pin=BUTTON_PIN, level=0)  # active low: pressed
    page.wait_for_selector("[data-device=button] [data-last=press]", timeout=300)
    assert page.get_by_label("Button state").text_content() == "pressed"
    dev.control(op="set", pin=BUTTON_PIN, level=1)
    page.wait_for_selector("[data-device=button] [data-last=release]", timeout=300)

    # A state change made elsewhere (another phone, a script) shows up live.
    dev.post("/api/devices/pwm", {"duty": 0.2})
    page.wait_for_function("document.getElementById('s-pwm-duty').value === '20'", timeout=2000)

    # Touch targets at least 44 px; every control has an accessible name.
    for handle in page.query_selector_all("button:visible, input:visible"):
        box = handle.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, (handle.evaluate("e => e.outerHTML"), box)
        name = handle.evaluate("e => e.getAttribute('aria-label') || (e.labels && e.labels.length && e.labels[0].textContent) || e.textContent")
        assert name and name.strip(), handle.evaluate("e => e.outerHTML")

    # Light and dark themes.
    page.emulate_media(color_scheme="light")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light != dark
    page.click("#theme")  # the manual switch overrides the system preference
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light

    shot = tmp_path / "control-page.png"
    page.emulate_media(color_scheme="light")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SAVE_SCREENSHOTS") == "1" and runtime == "micropython":
        out = paths.ROOT / "tools" / "screenshots" / "control-page.png"
        out.parent.mkdir(exist_ok=True)
        out.write_bytes(shot.read_bytes())


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_cold_load_is_small_precompressed_and_cached(device_factory, phone, runtime):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    # Everything but the endless event stream, which is not part of loading the page.
    total = sum(page.transferred)
    assert 0 < total <= PAGE_BUDGET, (total, list(zip(page.requested, page.transferred, strict=False)))
    with dev.client() as c:
        first = c.get("/", headers={"Accept-Encoding": "gzip"})
        assert first.headers["content-encoding"] == "gzip"
        assert int(first.headers["content-length"]) <= PAGE_BUDGET
        again = c.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_page_reconnects_after_a_restart_and_shows_the_fresh_state(device_factory, phone, runtime):
    dev = device_factory(runtime, config={"power_on": {"led": "off"}})  # off after every start
    page = _open(phone, dev)
    page.get_by_role("switch", name="Desk lamp on/off").tap()
    assert _until(lambda: _duty(dev, LED_PIN) > 0)
    assert page.get_by_role("switch", name="Desk lamp on/off").is_checked()

    dev.stop()
    page.wait_for_selector("#conn.down", timeout=10000)
    # Offline the page is honest: the controls take no input and the footer no longer
    # claims a Wi-Fi state it cannot know.
    page.wait_for_function("document.querySelector('[role=switch][aria-label=\"Desk lamp on/off\"]').disabled", timeout=5000)
    assert page.get_by_label("Fan Level").is_disabled()
    assert "not answering" in page.text_content("#foot")
    dev.start()  # a fresh boot: the LED is off again (power_on), and the page must not say otherwise
    dev.post("/api/devices/pwm", {"duty": 0.4})
    page.wait_for_selector("#conn.live", timeout=20000)
    page.wait_for_function("!document.querySelector('[role=switch][aria-label=\"Desk lamp on/off\"]').checked", timeout=5000)
    page.wait_for_function("document.getElementById('s-pwm-duty').value === '40'", timeout=5000)

    # The live stream works again after the reconnect.
    dev.control(op="set", pin=BUTTON_PIN, level=0)
    page.wait_for_selector("[data-device=button] [data-last=press]", timeout=2000)
    dev.control(op="set", pin=BUTTON_PIN, level=1)
    assert page.get_by_role("switch", name="Desk lamp on/off").is_enabled()
    assert "Wi-Fi:" in page.text_content("#foot")


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_a_command_that_fails_reverts_the_control_and_says_why(device_factory, phone, runtime):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    switch = page.get_by_role("switch", name="Desk lamp on/off")
    assert not switch.is_checked()

    # The board cannot be reached for this one command (the request never arrives).
    def drop_commands(route):
        if route.request.method == "POST":
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**/api/devices/led", drop_commands)
    switch.tap()
    error = page.locator("[data-device=led] .err")
    page.wait_for_function("document.querySelector('[data-device=led] .err').textContent !== ''", timeout=5000)
    assert error.text_content() == "Not changed: the board did not answer."
    assert not switch.is_checked()  # back to what the board last reported
    assert _duty(dev, LED_PIN) == 0

    # The page finds the board again by itself; the next command goes through and the
    # error is cleared.
    page.unroute("**/api/devices/led")
    page.wait_for_selector("#conn.live", timeout=10000)
    switch.tap()
    assert _until(lambda: _duty(dev, LED_PIN) > 0)
    page.wait_for_function("document.querySelector('[data-device=led] .err').textContent === ''", timeout=5000)
    assert switch.is_checked()


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_with_auth_the_page_asks_for_the_password(device_factory, phone, runtime):
    dev = device_factory(runtime, config={"auth": {"password": "open sesame"}})
    page = phone.new_page()
    page.goto(dev.url + "/")
    page.wait_for_selector("#login:not([hidden])")
    assert page.query_selector("[data-device]") is None  # nothing shown before the password
    assert page.text_content("#connText") == "locked"

    # Meanwhile an unauthenticated API call changes nothing.
    r = dev.post("/api/devices/led", {"on": True})
    assert r.status_code == 401
    assert _duty(dev, LED_PIN) == 0

    page.get_by_label("Password", exact=True).fill("wrong")
    page.get_by_role("button", name="Unlock").tap()
    page.wait_for_function("document.getElementById('loginErr').textContent.length > 0")
    assert page.query_selector("[data-device]") is None

    page.get_by_label("Password", exact=True).fill("open sesame")
    page.get_by_role("button", name="Unlock").tap()
    page.wait_for_selector("[data-device=led]")
    page.wait_for_selector("#conn.live")
    page.get_by_role("switch", name="Desk lamp on/off").tap()
    assert _until(lambda: _duty(dev, LED_PIN) > 0)


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_setup_card_scans_saves_and_the_board_rejoins(device_factory, phone, runtime):
    dev = device_factory(runtime, nets=("home:secret99:-48", "cafe::-81"))  # none configured: setup AP
    page = _open(phone, dev)
    assert page.is_visible("#setup")
    page.get_by_role("button", name="Scan for networks").tap()
    page.get_by_role("listitem").filter(has_text="home").tap()
    assert page.input_value("#ssid") == "home"
    page.get_by_label("Wi-Fi password").fill("secret99")
    page.get_by_role("button", name="Save and restart").tap()
    page.wait_for_function("document.getElementById('setupNote').textContent.startsWith('Saved')")
    assert dev.wait_exit() in (0, 3), dev.output  # main.py called machine.reset()

    dev.start()  # the board comes back on the same flash and joins the saved network
    page.wait_for_selector("#conn.live", timeout=20000)
    page.wait_for_function("document.getElementById('foot').textContent === 'Wi-Fi: connected (home)'", timeout=10000)
    assert not page.is_visible("#setup")


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_a_fast_slider_sends_few_requests_and_ends_at_the_last_value(device_factory, phone, runtime):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    # 100 input events in one burst, as a finger dragging the slider produces.
    page.evaluate("""() => {
        const s = document.getElementById('s-pwm-duty');
        for (let v = 1; v <= 100; v++) { s.value = v; s.dispatchEvent(new Event('input')); }
    }""")
    assert _until(lambda: _duty(dev, PWM_PIN) == 65535), _duty(dev, PWM_PIN)
    page.wait_for_timeout(300)  # let any straggler arrive before counting
    assert 1 <= len(posts) <= 3, posts  # one in flight, then only the newest value
    assert dev.get("/api/devices/pwm").json()["state"]["duty"] == 1.0


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_the_device_card_shows_what_the_board_reports_and_keeps_it_current(device_factory, phone, runtime):
    dev = device_factory(runtime, config={"hostname": "porch"})
    page = _open(phone, dev)
    page.wait_for_selector("#diag:not([hidden])", timeout=5000)
    health = dev.get("/api/health").json()
    rows = dict(zip(page.locator("#diagList dt").all_text_contents(), page.locator("#diagList dd").all_text_contents(), strict=True))
    assert rows["Name"] == "porch" and rows["Address"] == "127.0.0.1"
    assert rows["Wi-Fi signal"] == "no signal reading"  # the setup access point: no station signal
    assert rows["Firmware"] == health["version"] and rows["Runtime"] == health["runtime"]
    assert rows["Last start"] == "power-on"
    if runtime == "micropython":
        free, largest = rows["Free memory"].split(", the largest block ")
        assert free.endswith(" KB") and largest.endswith(" KB") and 0 < float(largest[:-3]) <= float(free[:-3])
    else:
        assert rows["Free memory"] == "unknown"
    first = rows["Running for"]
    # Read again every 10 s: the running time moves on by itself.
    page.wait_for_function("document.querySelectorAll('#diagList dd')[3].textContent !== %r" % first, timeout=15000)


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_dragging_the_brightness_of_a_lamp_that_is_off_switches_it_on(device_factory, phone, runtime):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    switch = page.get_by_role("switch", name="Desk lamp on/off")
    assert not switch.is_checked()
    page.get_by_label("Desk lamp Brightness").fill("40")
    state = _until(lambda: (lambda s: s if s["on"] else None)(dev.get("/api/devices/led").json()["state"]))
    assert state and state["brightness"] == 0.4, state
    page.wait_for_function("document.querySelector('[role=switch][aria-label=\"Desk lamp on/off\"]').checked",
                           timeout=2000)
    # A lamp that is on keeps its switch as it is: only the brightness is sent.
    page.get_by_label("Desk lamp Brightness").fill("70")
    assert _until(lambda: dev.get("/api/devices/led").json()["state"]["brightness"] == 0.7)
    # The kinds in words a house uses, not the API's.
    assert page.locator("[data-device=led] .kind").text_content() == "light"
    assert page.locator("[data-device=pwm] .kind").text_content() == "output"
    assert page.text_content("#foot") == "Wi-Fi: setup access point open (microhttp-setup)"


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_a_button_action_set_on_the_page_works_with_the_page_closed(device_factory, phone, runtime):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    page.wait_for_selector("#actions:not([hidden])", timeout=5000)
    assert page.text_content("#actionList") == "None yet."
    page.get_by_label("When", exact=True).select_option("click")
    page.get_by_label("Action", exact=True).select_option(label="Desk lamp: toggle")
    page.get_by_role("button", name="Add").tap()
    page.wait_for_selector("#actionList li button", timeout=5000)
    assert page.text_content("#actionList li span") == "Button, click: Desk lamp toggle"
    assert dev.get("/api/bindings").json()["bindings"] == [
        {"button": "button", "event": "click", "device": "led", "command": {"toggle": True}}]
    page.close()  # no page, no phone: the board does it by itself
    dev.control(op="click", name="button")
    assert _until(lambda: dev.get("/api/devices/led").json()["state"]["on"]), "the click did not switch the lamp on"

    page = _open(phone, dev)  # it is there on the next visit, and it can be removed
    page.wait_for_selector("#actionList li button", timeout=5000)
    page.get_by_role("button", name="Remove Button, click: Desk lamp toggle").tap()
    page.wait_for_function("document.getElementById('actionList').textContent === 'None yet.'", timeout=5000)
    assert dev.get("/api/bindings").json()["bindings"] == []

    # A dimmer button: each click a step down.
    was = dev.get("/api/devices/led").json()["state"]
    assert was["on"] and was["brightness"] >= 0.5
    page.get_by_label("Action", exact=True).select_option(label="Desk lamp: dimmer")
    page.get_by_role("button", name="Add").tap()
    page.wait_for_selector("#actionList li button", timeout=5000)
    dev.control(op="click", name="button")
    assert _until(lambda: dev.get("/api/devices/led").json()["state"]["brightness"] == round(was["brightness"] - 0.25, 4))


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_the_log_shows_the_boards_last_lines_and_new_ones_live(device_factory, phone, runtime):
    dev = device_factory(runtime)
    page = _open(phone, dev)
    page.locator("#log summary").tap()
    page.wait_for_function("document.getElementById('logLines').textContent.includes('ready: wifi ap')", timeout=5000)
    lines = page.locator("#logLines li").all_text_contents()
    assert any(line.startswith("http: listening on ") for line in lines), lines
    assert dev.get("/api/log").json()["lines"] == lines  # the same lines, in the same order
    dev.put("/api/bindings", {"bindings": []})  # something that logs, from elsewhere
    page.wait_for_function("[...document.querySelectorAll('#logLines li')].pop().textContent === 'bindings: 0 saved'",
                           timeout=5000)


@pytest.mark.parametrize("runtime", ["cpython"])
def test_on_a_desktop_the_device_cards_sit_side_by_side(device_factory, app_browser, runtime):
    # A phone shows one card per row; a desktop's wide window shows several, not a narrow
    # column with the rest of the screen empty.
    dev = device_factory(runtime)
    context = app_browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(dev.url + "/")
        page.wait_for_selector("#conn.live")
        lamp = page.locator("[data-device=led]").bounding_box()
        status = page.locator("[data-device=status]").bounding_box()
        assert abs(lamp["y"] - status["y"]) < 1 and status["x"] > lamp["x"] + lamp["width"]
        assert page.locator("main").bounding_box()["width"] > 900
    finally:
        context.close()


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_settings_round_trip_names_network_hostname_backup_and_factory_reset(device_factory, phone, runtime, tmp_path):
    dev = device_factory(runtime, nets=("home:secret99:-48",))  # none configured: setup AP
    page = _open(phone, dev)
    page.get_by_text("Settings", exact=True).tap()
    settings = page.locator("#settings")

    # A new name shows on the card at once, with no restart.
    settings.get_by_label("Light (led)").fill("Reading lamp")
    settings.get_by_role("button", name="Save names").tap()
    page.get_by_role("switch", name="Reading lamp on/off").wait_for()
    assert dev.get("/api/board").json()["devices"][0]["label"] == "Reading lamp"

    # A network picked from a scan, saved; the board restarts and joins it.
    settings.get_by_role("button", name="Scan").tap()
    page.wait_for_function("document.querySelectorAll('#netSeen option').length === 1")
    settings.get_by_placeholder("Network name").fill("home")
    settings.get_by_label("Password of the network to add").fill("secret99")
    settings.get_by_role("button", name="Add").tap()
    settings.get_by_role("button", name="Save networks and restart").tap()
    page.wait_for_function("document.getElementById('setNote').textContent.includes('restarts')")
    assert dev.wait_exit() in (0, 3), dev.output
    dev.start()
    page.wait_for_selector("#conn.live", timeout=20000)
    page.wait_for_function("document.getElementById('foot').textContent === 'Wi-Fi: connected (home)'", timeout=10000)

    # A bad network name is refused by the page's own check; a good one restarts the board.
    hostname = settings.get_by_label("How the device is called on the network")
    hostname.fill("porch light")
    settings.locator("#hostForm").get_by_role("button", name="Save and restart").tap()
    assert hostname.evaluate("input => !input.checkValidity()")
    assert json.loads((dev.flash / "config.json").read_text())["hostname"] == "microhttp"
    hostname.fill("porch")
    settings.locator("#hostForm").get_by_role("button", name="Save and restart").tap()
    assert dev.wait_exit() in (0, 3), dev.output
    dev.start()
    page.wait_for_function("document.title === 'porch'", timeout=20000)

    # The backup downloads as a file; a bad one uploaded is refused with the field named.
    with page.expect_download() as download:
        settings.get_by_role("link", name="Download a backup").tap()
    assert download.value.suggested_filename == "porch-config.json"
    backup = json.loads(open(download.value.path()).read())
    assert backup["hostname"] == "porch" and backup["labels"] == {"led": "Reading lamp"}
    page.set_input_files("#restoreFile", files=[{"name": "bad.json", "mimeType": "application/json",
                                                  "buffer": json.dumps(dict(backup, http_port=0)).encode()}])
    page.wait_for_function("document.getElementById('setErr').textContent.includes('http_port')")
    page.set_input_files("#restoreFile", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    page.wait_for_function("document.getElementById('setErr').textContent.includes('notes.txt is not a JSON file')")
    assert json.loads((dev.flash / "config.json").read_text())["http_port"] == 80

    # The factory reset asks first, then forgets everything: setup mode, the board file's names.
    settings.get_by_role("button", name="Factory reset").tap()
    settings.get_by_role("button", name="Cancel").tap()
    assert (dev.flash / "config.json").exists()
    settings.get_by_role("button", name="Factory reset").tap()
    settings.get_by_role("button", name="Erase everything").tap()
    assert dev.wait_exit() in (0, 3), dev.output
    dev.start()
    page.wait_for_selector("#conn.live", timeout=20000)
    page.wait_for_function("document.title === 'microhttp'", timeout=10000)
    assert page.is_visible("#setup")
    page.get_by_role("switch", name="Desk lamp on/off").wait_for()
