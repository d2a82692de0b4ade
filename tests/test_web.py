"""The browser front end: the web bridge's HTTP and WebSocket rules, then the page in a real Chromium.

The bridge is checked with a plain HTTP client and a Python WebSocket client; the page runs in
Debian's headless `chromium` driven by Playwright (its own browser download is never used), against
a server with the tiny random model.
"""

from __future__ import annotations

import http.client
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from jaxaccomp.protocol import Busy, Hello, HelloReply, Ready, parse
from jaxaccomp.server.session import Settings
from jaxaccomp.server.web import MAX_DATAGRAM, TRY_AGAIN_LATER
from tests.support.servers import free_address, running_web_server, warmed_model

ROOT = Path(__file__).resolve().parents[1]
STEP = Settings().stream.step
FADE = Settings().stream.fade_samples
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def warmed(tmp_path_factory, tiny_net):
    return warmed_model(tiny_net, tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def web(warmed):
    """A server with the web bridge; its replies are not pre-ramped, so the page crossfades as accompany does."""
    with running_web_server(warmed.make_engine, Settings(ramp_lead_in=False)) as (bridge, server, lines):
        yield bridge, server, lines


def get(bridge, path: str, host: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(bridge.host, bridge.port, timeout=10)
    connection.request("GET", path, headers={"Host": host or f"127.0.0.1:{bridge.port}"})
    return connection.getresponse()


def socket_url(bridge) -> str:
    return f"ws://127.0.0.1:{bridge.port}/ws"


def page_origin(bridge) -> str:
    return f"http://127.0.0.1:{bridge.port}"


# ----------------------------------------------------------------------------------------------
# The bridge, without a browser


def test_only_the_pages_own_files_are_served(web):
    bridge, _, _ = web
    index = get(bridge, "/")
    assert index.status == 200 and b'<script type="module" src="app.js">' in index.read()
    assert "default-src 'self'" in index.getheader("Content-Security-Policy")
    script = get(bridge, "/worklet.js")
    assert script.status == 200 and script.getheader("Content-Type").startswith("text/javascript")
    for path in ("/../pyproject.toml", "/%2e%2e/serve.py", "/web/app.js", "/index.html/", "/etc/passwd"):
        assert get(bridge, path).status == 404, path
    assert get(bridge, "/", host=f"attacker.example:{bridge.port}").status == 403  # DNS rebinding


def test_the_socket_opens_only_to_the_pages_origin(web):
    bridge, _, lines = web
    for origin in ("http://attacker.example", f"http://localhost:{bridge.port + 1}"):
        with pytest.raises(InvalidStatus):
            connect(socket_url(bridge), origin=origin)
    assert any("refused a WebSocket from origin 'http://attacker.example'" in line for line in lines)
    with pytest.raises(InvalidStatus):
        connect(socket_url(bridge))  # no Origin: not a page


def test_bad_frames_are_one_line_each_and_the_connection_goes_on(web):
    bridge, _, lines = web
    with connect(socket_url(bridge), origin=page_origin(bridge)) as tab:
        assert parse(tab.recv(5)) == Ready()
        before = bridge.malformed
        tab.send(b"\0" * (MAX_DATAGRAM + 4))
        tab.send("/hello")
        tab.send(b"/hello\0\0,x\0\0")
        tab.send(b"garbage!")
        tab.send(Hello().encode())
        assert isinstance(parse(tab.recv(5)), HelloReply)
        assert bridge.malformed == before + 4
    assert any(f"dropped a frame of {MAX_DATAGRAM + 4} bytes" in line for line in lines)
    assert any("dropped a text frame" in line for line in lines)


def test_a_second_tab_is_turned_away_with_the_reason_and_a_reconnect_works(web):
    bridge, _, _ = web
    with connect(socket_url(bridge), origin=page_origin(bridge)) as first:
        assert parse(first.recv(5)) == Ready()
        with connect(socket_url(bridge), origin=page_origin(bridge)) as second:
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(5)
        assert closed.value.rcvd.code == TRY_AGAIN_LATER and "is streaming" in closed.value.rcvd.reason
    deadline = time.monotonic() + 5
    while True:  # the server sees the first tab leave a moment after it closed
        with connect(socket_url(bridge), origin=page_origin(bridge)) as again:
            try:
                if parse(again.recv(5)) == Ready():
                    break
            except ConnectionClosed:
                assert time.monotonic() < deadline
                time.sleep(0.1)


def test_udp_while_a_tab_streams_is_answered_busy(web):
    """A UDP client is told why it is ignored: `/busy` on the wire, a one-line error in the Python client."""
    import socket

    from jaxaccomp.client.core import ClientSettings
    from jaxaccomp.client.player import ServerBusy, play

    bridge, server, _ = web
    with connect(socket_url(bridge), origin=page_origin(bridge)) as tab:
        assert parse(tab.recv(5)) == Ready()
        tab.send(Hello().encode())
        assert isinstance(parse(tab.recv(5)), HelloReply)
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind(server.client)
        listener.settimeout(5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(Hello().encode(), server.address)
            assert isinstance(parse(listener.recv(65536)), Busy)
        listener.close()
        with pytest.raises(ServerBusy, match="is busy: a browser tab at 127.0.0.1:.* is streaming"):
            play(np.zeros(STEP, np.float32), ClientSettings(), server.address, server.client, connect_timeout=5)


def test_serve_web_says_a_busy_port_in_one_line_before_loading():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _, udp = free_address()
        result = subprocess.run([sys.executable, ROOT / "serve.py", "--web", str(port), "--port", str(udp)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot serve the web page on 127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1 and "compiling" not in result.stderr


# ----------------------------------------------------------------------------------------------
# The page in Chromium

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make system-deps)")


def launch(playwright, *args: str):
    return playwright.chromium.launch(executable_path=CHROMIUM,
                                      args=["--autoplay-policy=no-user-gesture-required", *args])


def wait_for(page, expression: str, timeout: float):
    """Poll a page expression until it is truthy (the page's CSP forbids Playwright's eval-based waits)."""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(expression)):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}: {page.text_content('#status')}"
        time.sleep(0.1)
    return value


def open_page(browser, bridge):
    page = browser.new_page(accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(bridge.url)
    wait_for(page, "window.jaxaccomp.state === 'ready'", 15)
    return page, errors


def download(page, name: str, path: Path) -> tuple[np.ndarray, int]:
    with page.expect_download() as event:
        page.click(f"text=download {name}")
    event.value.save_as(path)
    return sf.read(str(path), dtype="float32", always_2d=True)


@needs_chromium
def test_a_file_streams_in_real_time_and_the_recording_equals_offline_accompaniment(web, warmed, tmp_path):
    """A 7.5 s file (3 steps at r = 1/4, w = 1, as the Python client sends it) chosen in the page streams through the server in real
    time; the generated track the page recorded as it played equals `accompany` sample for sample, the
    stop gate included (the band plays 15 dB quieter for a step and falls silent 1.5 s before the end).
    A screenshot of the running page shows its controls, meters and the scrolling view."""
    from playwright.sync_api import sync_playwright

    from jaxaccomp.accompany import accompany

    bridge, _, _ = web
    context = (0.1 * np.random.default_rng(7).standard_normal(5 * STEP)).astype(np.float32)
    context[2 * STEP:3 * STEP] *= 10 ** (-15 / 20)  # a quieter passage: the gate follows the band down
    context[int(3.5 * STEP):] = 0
    sf.write(tmp_path / "song.wav", context, 44100, subtype="FLOAT")
    (tmp_path / "notes.wav").write_text("not audio at all")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page, errors = open_page(browser, bridge)
        page.set_input_files("#file", tmp_path / "notes.wav")
        wait_for(page, "document.body.dataset.state === 'error'", 5)
        assert page.text_content("#status") == "notes.wav is not an audio file this browser can read"
        page.set_input_files("#file", tmp_path / "song.wav")
        wait_for(page, "document.getElementById('status').textContent.startsWith('song.wav')", 5)
        started = time.monotonic()
        page.click("#start")
        wait_for(page, "window.jaxaccomp.stream && window.jaxaccomp.stream.stats.complete >= 2", 15)
        shot = page.screenshot(path=str(tmp_path / "running.png"))
        for control in ("#start", "#stop", "#file", "#r", "#w", "#stop-gate", "#level-input", "#level-bass", "#meter-input",
                        "#meter-bass", "#round-trip", "#late", "#dropped", "#view"):
            assert page.is_visible(control), control
        assert page.evaluate("document.getElementById('meter-input').value") > -40
        view = page.locator("#view").bounding_box()
        wait_for(page, "window.jaxaccomp.state === 'ended'", 30)
        wall = time.monotonic() - started
        stats = page.evaluate("({...window.jaxaccomp.stream.stats, late: window.jaxaccomp.late})")
        tracks, rate = download(page, "session-tracks.wav", tmp_path / "tracks.wav")
        browser.close()
    assert not errors, errors
    assert (stats["batches"], stats["complete"], stats["dropped"], stats["stale"], stats["late"]) == (3, 3, 0, 0, 0)
    assert wall >= 5 * STEP / 44100  # real time: the file's length at least
    assert rate == 44100 and tracks.shape[1] == 2  # the input as played, then the bass
    np.testing.assert_array_equal(tracks[:context.shape[0], 0], context)
    expected = accompany(context, 44100, warmed.codec, warmed.generator, ["bass"])
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(tracks[:context.shape[0], 1], expected[0], atol=1e-6)
    ungated = accompany(context, 44100, warmed.codec, warmed.generator, ["bass"], stop_gate=False)
    assert np.abs(ungated[0, 4 * STEP:]).max() > 0 and not np.any(expected[0, 4 * STEP:])  # the gate did its job
    quiet = slice(int(2.5 * STEP), 3 * STEP)  # 15 dB down: the part 27 dB down (once the hold has passed)
    assert np.abs(expected[0, quiet]).max() < 0.1 * np.abs(ungated[0, quiet]).max()
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), np.int16)
    x0, y0 = int(view["x"]), int(view["y"])
    canvas = image[y0:y0 + int(view["height"]), x0:x0 + int(view["width"])]
    waveform = np.abs(canvas - np.array([0x8f, 0xb3, 0xff])).sum(-1) < 30  # the input's colour
    assert waveform.sum() > 200, "the scrolling view shows no input"


@needs_chromium
def test_the_microphone_streams_and_nothing_lands_outside_its_window(web, tmp_path):
    """Chromium's fake capture device plays a WAV file as the microphone for three steps at r = 1/8, the
    generated track played 50 ms early (latency compensation): every reply still lands in time."""
    from playwright.sync_api import sync_playwright

    bridge, _, _ = web
    tone = 0.3 * np.sin(2 * np.pi * 110 * np.arange(10 * 44100) / 44100)
    sf.write(tmp_path / "mic.wav", tone.astype(np.float32), 44100, subtype="PCM_16")
    step = STEP // 2
    with sync_playwright() as playwright:
        browser = launch(playwright, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-audio-capture={tmp_path / 'mic.wav'}")
        page, errors = open_page(browser, bridge)
        page.check('input[name="source"][value="mic"]')
        page.select_option("#r", "0.125")
        page.fill("#compensation", "50")  # played 50 ms early: chosen, so not measured at Start
        page.dispatch_event("#compensation", "change")
        page.click("#start")
        wait_for(page, "window.jaxaccomp.stream && window.jaxaccomp.stream.stats.complete >= 3", 20)
        page.click("#stop")
        wait_for(page, "window.jaxaccomp.state === 'ended'", 10)
        stats = page.evaluate("({...window.jaxaccomp.stream.stats, late: window.jaxaccomp.late})")
        compensation = float(page.input_value("#compensation"))
        tracks, _ = download(page, "session-tracks.wav", tmp_path / "tracks.wav")
        browser.close()
    assert not errors, errors
    assert compensation == 50
    assert stats["dropped"] == stats["stale"] == stats["late"] == 0 and stats["complete"] >= 3
    heard, bass = tracks[:, 0], tracks[:, 1]
    assert np.abs(heard).max() > 0.1  # the fake microphone was heard
    # replies land in [k step + w step - fade, (k + 1) step + w step) for the steps k sent, w = 1
    written = np.flatnonzero(bass)
    assert written.size and written.min() >= 2 * step - FADE
    assert written.max() < (stats["batches"] + 2) * step


@needs_chromium
def test_a_closed_tab_frees_the_server_for_the_next_one(web, tmp_path):
    from playwright.sync_api import sync_playwright

    bridge, _, _ = web
    sf.write(tmp_path / "song.wav", np.zeros(3 * STEP, np.float32), 44100)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        first, _ = open_page(browser, bridge)
        first.set_input_files("#file", tmp_path / "song.wav")
        wait_for(first, "document.getElementById('status').textContent.startsWith('song.wav')", 5)
        first.click("#start")
        wait_for(first, "window.jaxaccomp.stream && window.jaxaccomp.stream.stats.batches >= 1", 10)
        second = browser.new_page()
        second.goto(bridge.url)
        wait_for(second, "window.jaxaccomp.state === 'busy'", 10)
        assert "the server is busy" in second.text_content("#status") and second.is_visible("#reconnect")
        first.close()  # mid-stream
        time.sleep(0.5)
        second.click("#reconnect")
        wait_for(second, "window.jaxaccomp.state === 'ready'", 10)
        browser.close()
