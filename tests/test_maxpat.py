"""The Max performance patch max/maxmsp/RTAP.maxpat, read as JSON (no Max needed): it is what
make_rtap.py writes, every cord joins existing boxes at existing inlets and outlets, every message it
sends jaxaccomp.multi_track and jaxaccomp.stopgate~ is one the external implements (read from its
method table), and the paths the performance depends on are wired: step clock -> predict, instrument
-> predict_instruments, outlet -> step clock and load_model, one buffer~ name throughout, the stems
through the stop gate to the speakers. rtap_server.js, which starts and
stops the server from node.script, runs under node against a stand-in for Max's max-api module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

MAXMSP = Path(__file__).resolve().parents[1] / "max" / "maxmsp"
EXTERNAL = "jaxaccomp.multi_track"
STOP_GATE = "jaxaccomp.stopgate~"
BUFFER = "rtap_song"
STEMS = ["bass", "drums", "guitar", "piano"]


def load_generator():
    spec = importlib.util.spec_from_file_location("make_rtap", MAXMSP / "make_rtap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PATCH = json.loads((MAXMSP / "RTAP.maxpat").read_text())["patcher"]
BOXES = {b["box"]["id"]: b["box"] for b in PATCH["boxes"]}
CORDS = [(l["patchline"]["source"], l["patchline"]["destination"]) for l in PATCH["lines"]]


def implemented_messages(source_file: str = "multi_track.cpp") -> set[str]:
    """The selectors in an external's method table: `add(handler, "name", types...)`, less Max's own
    A_CANT methods (notify, assist, dsp64), which no patch sends."""
    source = (MAXMSP / source_file).read_text()
    table = source[source.index("ext_main"):]
    return {name for name, types in re.findall(r'^\s*add\(\w+, "(\w+)"(.*)\);', table, re.MULTILINE)
            if "A_CANT" not in types}


def boxes(maxclass: str, text: str | None = None, prefix: str | None = None) -> list[str]:
    return [i for i, b in BOXES.items() if b["maxclass"] == maxclass
            and (text is None or b.get("text") == text)
            and (prefix is None or b.get("text", "").split(" ")[0] == prefix)]


def only(maxclass: str, text: str | None = None, prefix: str | None = None) -> str:
    found = boxes(maxclass, text, prefix)
    assert len(found) == 1, f"expected one {maxclass} {text or prefix or ''}, found {len(found)}"
    return found[0]


def cords_into(box: str, inlet: int = 0) -> list[tuple[str, int]]:
    return [(s[0], s[1]) for s, d in CORDS if d == [box, inlet]]


def cords_out_of(box: str, outlet: int = 0) -> list[tuple[str, int]]:
    return [(d[0], d[1]) for s, d in CORDS if s == [box, outlet]]


def reaches(start: str, goal: str) -> bool:
    """A path of cords from `start` to `goal`, through any outlets and inlets."""
    after = defaultdict(set)
    for source, destination in CORDS:
        after[source[0]].add(destination[0])
    seen, frontier = {start}, [start]
    while frontier:
        for nxt in after[frontier.pop()] - seen:
            seen.add(nxt)
            frontier.append(nxt)
    return goal in seen


EXT = only("newobj", prefix=EXTERNAL)
GATE = only("newobj", prefix=STOP_GATE)


def test_the_file_is_what_make_rtap_writes():
    assert (MAXMSP / "RTAP.maxpat").read_text() == load_generator().render()


def test_every_cord_joins_existing_inlets_and_outlets():
    assert len(BOXES) == len(PATCH["boxes"]), "box ids must be unique"
    assert CORDS
    for source, destination in CORDS:
        assert source[0] in BOXES and destination[0] in BOXES, (source, destination)
        assert 0 <= source[1] < BOXES[source[0]]["numoutlets"], (BOXES[source[0]].get("text"), source)
        target = BOXES[destination[0]]
        assert 0 <= destination[1] < target["numinlets"], (target.get("text"), destination)
    for box in BOXES.values():
        assert len(box["outlettype"]) == box["numoutlets"], box


def test_every_message_to_the_external_is_one_it_implements():
    implemented = implemented_messages()
    assert {"predict", "predict_instruments", "T", "r", "w", "fade", "packet_size", "verbose", "load_model",
            "reset", "test_packet", "print", "clear", "server", "listen", "stats"} <= implemented
    sent = set()
    for source, inlet in cords_into(EXT):
        box = BOXES[source]
        assert box["maxclass"] in ("message", "newobj"), box
        words = box["text"].split(" ")
        if box["maxclass"] == "newobj":  # only `prepend <selector>` may feed the external
            assert words[0] == "prepend", box["text"]
            words = words[1:]
        assert words[0] in implemented, f"{box['text']!r}: the external has no {words[0]!r} message"
        sent.add(words[0])
    # Everything a performance needs is wired (set_buffer, ramped and max-datagram tuning are optional).
    assert {"predict", "predict_instruments", "T", "r", "w", "fade", "packet_size", "verbose", "load_model",
            "reset", "test_packet", "print", "clear", "server", "listen"} <= sent


def test_one_buffer_name_throughout():
    assert BOXES[only("newobj", prefix="buffer~")]["text"].split(" ")[1:] == [BUFFER, "20000", "4"]
    assert BOXES[EXT]["text"].split(" ")[1:] == [BUFFER] + STEMS
    assert BOXES[only("newobj", prefix="groove~")]["text"] == f"groove~ {BUFFER} 4"
    assert BOXES[only("newobj", prefix="info~")]["text"] == f"info~ {BUFFER}"
    pokes = sorted(BOXES[b]["text"] for b in boxes("newobj", prefix="poke~"))
    assert pokes == [f"poke~ {BUFFER} {k}" for k in range(1, 5)]
    views = [BOXES[view] for view in boxes("waveform~")]
    assert sorted((view["buffername"], view["chanoffset"]) for view in views) == [(BUFFER, k) for k in range(1, 5)]


def test_the_step_clock_sends_predict_at_each_step():
    groove, ext_route = only("newobj", prefix="groove~"), only("newobj", text="route step ready batch rtt_ms")
    snapshot = only("newobj", text="snapshot~ 5")
    assert (snapshot, 0) in cords_out_of(groove, 4)  # groove~'s sync outlet, after its 4 audio outlets
    clock = [snapshot]
    for text in ("* 0.", "/ 1.", "i", "change", "* 1", "predict $1", f"{EXTERNAL} {BUFFER} {' '.join(STEMS)}"):
        following = [box for box, inlet in cords_out_of(clock[-1]) if inlet == 0 and BOXES[box]["text"] == text]
        assert len(following) == 1, f"{BOXES[clock[-1]]['text']!r} must feed {text!r}"
        clock += following
    _, playhead, index, _, _, curr, _, _ = clock
    # The step (r*T) comes from the external's outlet; the frames from info~ (rate x ms / 1000).
    assert (ext_route, 0) in cords_out_of(EXT)
    assert {(index, 1), (curr, 1)} <= set(cords_out_of(ext_route, 0))
    frames = only("newobj", text="/ 1000.")
    assert (playhead, 1) in cords_out_of(frames)
    assert reaches(only("newobj", prefix="info~"), frames)


def test_the_instrument_menu_sends_a_one_hot_predict_instruments():
    menu = next(b for b in boxes("umenu") if BOXES[b]["items"][::2] == STEMS)
    route = only("newobj", text="route 0 1 2 3")
    assert (route, 0) in cords_out_of(menu, 0)
    for k in range(4):
        (message, _), = cords_out_of(route, k)
        flags = ["1" if j == k else "0" for j in range(4)]
        assert BOXES[message]["text"].split(" ") == ["predict_instruments"] + flags
        assert (EXT, 0) in cords_out_of(message)


def test_the_settings_menus_offer_valid_values():
    menus = {BOXES[b]["items"][0]: BOXES[b]["items"][::2] for b in boxes("umenu")}
    assert menus["0.5"] == ["0.5", "0.25", "0.125", "0.0625"]  # r: 64 r whole, as the latent needs
    assert menus["-1"] == ["-1", "0", "1"]
    assert all(128 <= int(size) <= 16384 for size in menus["512"])


def test_transport_reset_and_the_first_ready_loads_the_model():
    groove, play = only("newobj", prefix="groove~"), boxes("toggle")
    speed = only("newobj", text="sig~")
    assert (groove, 0) in cords_out_of(speed)
    assert any((speed, 0) in cords_out_of(toggle) for toggle in play)
    reset = only("message", text="reset")
    assert (EXT, 0) in cords_out_of(reset)
    assert reaches(only("button"), reset) and reaches(only("button"), groove)
    load = only("message", text="load_model")
    ready_gate = only("newobj", text="gate 1 1")
    assert (ready_gate, 1) in cords_out_of(only("newobj", text="route step ready batch rtt_ms"), 1)
    assert reaches(ready_gate, load) and (EXT, 0) in cords_out_of(load)


def test_live_input_records_into_every_channel_through_poke():
    adc = only("newobj", text="adc~ 1 2 3 4")
    for k in range(4):
        poke = only("newobj", text=f"poke~ {BUFFER} {k + 1}")
        assert (adc, k) in cords_into(poke, 0)
        assert cords_into(poke, 1), "the poke~ index (playhead, or -1 to skip) must be wired"
        assert reaches(only("newobj", prefix="groove~"), poke)


def test_monitors_and_meters_for_each_stem_through_the_stop_gate():
    dac, groove = only("ezdac~"), only("newobj", prefix="groove~")
    assert BOXES[GATE]["text"] == f"{STOP_GATE} 4"
    meters = boxes("meter~")
    assert len(meters) == 4
    for k in range(4):
        assert cords_out_of(groove, k) == [(GATE, k)]  # every stem reaches the speakers through the gate
        (level, _), = cords_out_of(GATE, k)
        assert {(dac, 0), (dac, 1)} <= set(cords_out_of(level)) and any(m in dict(cords_out_of(level)) for m in meters)


def test_the_stop_gate_hears_the_instrument_the_reset_and_its_switch():
    implemented = implemented_messages("stop_gate_tilde.cpp")
    assert implemented == {"predict_instruments", "stopgate", "reset"}
    sent = set()
    for source, outlet in cords_into(GATE):
        if BOXES[source]["outlettype"][outlet] == "signal":
            continue  # the stems, checked above
        words = BOXES[source]["text"].split(" ")
        assert words[0] in implemented, f"{BOXES[source]['text']!r}: the stop gate has no {words[0]!r} message"
        sent.add(words[0])
    assert sent == implemented
    # The same one-hot predict_instruments messages reach both objects.
    one_hots = [b for b in boxes("message") if BOXES[b]["text"].startswith("predict_instruments")]
    assert len(one_hots) == 4 and all({(EXT, 0), (GATE, 0)} <= set(cords_out_of(b)) for b in one_hots)
    switch = only("message", text="stopgate $1")
    assert any(BOXES[source]["maxclass"] == "toggle" for source, _ in cords_into(switch))
    assert (GATE, 0) in cords_out_of(only("message", text="reset"))


def test_the_server_is_started_and_stopped_by_the_node_script():
    script = only("newobj", prefix="node.script")
    assert BOXES[script]["text"].split(" ")[1] == "rtap_server.js" and (MAXMSP / "rtap_server.js").exists()
    commands = {BOXES[source]["text"].split(" ")[0] for source, _ in cords_into(script)}
    assert commands == {"start", "stop"}
    handlers = set(re.findall(r'addHandler\("(\w+)"', (MAXMSP / "rtap_server.js").read_text()))
    assert handlers == commands


# --- rtap_server.js under node ---------------------------------------------------------------------

FAKE_MAX_API = """
const handlers = {};
module.exports = {
  POST_LEVELS: {ERROR: "error", WARN: "warn", INFO: "info"},
  addHandler: (name, handler) => { handlers[name] = handler; },
  post: (text) => console.log("post " + text),
  outlet: (...atoms) => console.log("outlet " + atoms.join(" ")),
};
// The test plays Max: one message per line of stdin.
require("readline").createInterface({input: process.stdin}).on("line", (line) => {
  const [name, ...atoms] = line.split(" ");
  handlers[name](...atoms);
});
"""


class Node:
    """rtap_server.js under node, with the stand-in max-api; a thread collects what it prints."""

    def __init__(self, tmp_path: Path):
        (tmp_path / "max-api").mkdir()
        (tmp_path / "max-api" / "index.js").write_text(FAKE_MAX_API)
        self.process = subprocess.Popen([shutil.which("node"), str(MAXMSP / "rtap_server.js")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, "NODE_PATH": str(tmp_path)})
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line.rstrip("\n")) for line in self.process.stdout],
                         daemon=True).start()

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, wanted: str, timeout: float = 10.0) -> list[str]:
        """The lines printed up to `wanted`, which must come within `timeout` seconds."""
        lines, deadline = [], time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                lines.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
            if lines[-1] == wanted:
                return lines
        raise AssertionError(f"no {wanted!r} in {lines}")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_server_script_runs_a_command_and_stops_a_long_one(tmp_path):
    node = Node(tmp_path)
    try:
        node.send("start echo ready from $PWD")
        said = node.expect("outlet running 0 0")
        assert "outlet running 1" in said and f"post ready from {MAXMSP}" in said  # run from the patch's folder

        node.send("start sleep 60")
        node.expect("outlet running 1")
        node.send("start sleep 60")
        node.expect("post the server is already running: stop it first")
        started = time.monotonic()
        node.send("stop")
        node.expect("outlet running 0 -1")  # ended by a signal
        assert time.monotonic() - started < 5
    finally:
        node.process.stdin.close()
        assert node.process.wait(timeout=10) == 0
