"""Writes RTAP.maxpat, the performance patch on jaxaccomp.multi_track (docs/max-pd.md, "The RTAP patch").

    python max/maxmsp/make_rtap.py    # rewrites max/maxmsp/RTAP.maxpat; the output is deterministic

The patch plays a 4-channel buffer~ (bass drums guitar piano) with groove~ and sends `predict <curr>`
each time playback crosses the next multiple of the step r*T:

    groove~ sync (0..1) -> snapshot~ 5 -> * frames -> / step -> i -> change -> * step -> predict $1

The step comes from the external (`step` out of its outlet, after T and r and when the server sets T),
so the patch never recomputes r*T. The frames come from info~ after a file is loaded. The stems reach
the speakers through jaxaccomp.stopgate~, which silences the generated one once the band stops. The server is
started and stopped by rtap_server.js in node.script (built into Max 8 and later), running the command
in an editable message box.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "RTAP.maxpat"
EXTERNAL = "jaxaccomp.multi_track"
STOP_GATE = "jaxaccomp.stopgate~"
BUFFER = "rtap_song"
STEMS = ("bass", "drums", "guitar", "piano")
SERVER_SCRIPT = "rtap_server.js"
SERVER_COMMAND = "start cd ../.. && .venv/bin/python serve.py --port 7000 --client-port 8000"  # from max/maxmsp


def first_number(args: list[str]) -> int:
    """A count given as the box's first argument (gate's outlets, the stop gate's stems)."""
    return int(args[0])


# Inlets and outlets of each object class, by the box's first word (Max recomputes them on load;
# they keep the file self-consistent so that tests can check every cord). A function of the box's
# arguments where the count depends on them.
IO = {
    "loadbang": (1, 1),
    "loadmess": (1, 1),
    "prepend": (1, 1),
    "route": (1, lambda args: len(args) + 1),
    "t": (1, len),
    "gate": (2, first_number),
    "pak": (len, 1),
    "expr": (2, 1),
    "*": (2, 1),
    "/": (2, 1),
    "-": (2, 1),
    "i": (2, 1),
    "change": (1, 3),
    "print": (1, 0),
    "buffer~": (1, 2),
    "info~": (2, 8),
    EXTERNAL: (1, 1),
    STOP_GATE: (first_number, first_number),
    "groove~": (3, lambda args: int(args[1]) + 1),
    "sig~": (1, 1),
    "snapshot~": (2, 1),
    "*~": (2, 1),
    "+~": (2, 1),
    "poke~": (3, 0),
    "adc~": (1, len),
    "node.script": (1, 2),
}
CONTROL_OUTLETS = {"snapshot~", "buffer~", "info~"}  # ~ objects whose outlets are not signals

# User-interface boxes: maxclass -> (inlets, outlet types).
UI = {
    "number": (1, ["", "bang"]),
    "flonum": (1, ["", "bang"]),
    "toggle": (1, ["int"]),
    "button": (1, ["bang"]),
    "umenu": (1, ["int", "", ""]),
    "waveform~": (5, ["float", "float", "float", "float", "list", ""]),
    "meter~": (1, ["float"]),
    "ezdac~": (2, []),
}


class Patch:
    """Boxes and cords in Max's JSON form; ids are obj-1, obj-2, … in creation order."""

    def __init__(self) -> None:
        self.boxes: list[dict] = []
        self.lines: list[dict] = []

    def _add(self, maxclass: str, x: float, y: float, width: float, inlets: int, outlet_types: list[str],
             text: str | None = None, **attributes) -> str:
        box = {"id": f"obj-{len(self.boxes) + 1}", "maxclass": maxclass}
        if text is not None:
            box["text"] = text
        box |= {"numinlets": inlets, "numoutlets": len(outlet_types), "outlettype": outlet_types,
                "patching_rect": [x, y, width, 22.0]} | attributes
        self.boxes.append({"box": box})
        return box["id"]

    def obj(self, text: str, x: float, y: float, width: float = 0.0) -> str:
        name, *args = text.split()
        inlets, outlets = (count(args) if callable(count) else count for count in IO[name])
        signal = name.endswith("~") and name not in CONTROL_OUTLETS
        return self._add("newobj", x, y, width or 8.0 * len(text) + 16, inlets, ["signal" if signal else ""] * outlets,
                         text)

    def message(self, text: str, x: float, y: float) -> str:
        return self._add("message", x, y, 8.0 * len(text) + 16, 2, [""], text)

    def comment(self, text: str, x: float, y: float, width: float = 240.0) -> str:
        return self._add("comment", x, y, width, 1, [], text)

    def ui(self, maxclass: str, x: float, y: float, width: float = 50.0, **attributes) -> str:
        inlets, outlet_types = UI[maxclass]
        return self._add(maxclass, x, y, width, inlets, list(outlet_types), parameter_enable=0, **attributes)

    def menu(self, items: list[str], x: float, y: float) -> str:
        separated = [part for item in items for part in (item, ",")][:-1]  # Max stores items comma-separated
        return self.ui("umenu", x, y, 90.0, items=separated)

    def connect(self, source: str, outlet: int, destination: str, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"source": [source, outlet], "destination": [destination, inlet]}})

    def chain(self, *boxes: str) -> None:
        """Cords from the left outlet of each box to the left inlet of the next."""
        for source, destination in zip(boxes, boxes[1:]):
            self.connect(source, 0, destination)

    def document(self) -> dict:
        return {"patcher": {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 5, "revision": 0, "architecture": "x64", "modernui": 1},
            "classnamespace": "box",
            "rect": [40.0, 80.0, 1500.0, 900.0],
            "default_fontsize": 12.0,
            "gridsize": [15.0, 15.0],
            "boxes": self.boxes,
            "lines": self.lines,
        }}


def menu_setting(p: Patch, label: str, items: list[str], default: int, selector: str, x: float, y: float,
                 external: str) -> None:
    """A labelled menu set to items[default] at load that sends `<selector> <item>`."""
    p.comment(label, x, y)
    menu = p.menu(items, x, y + 20)
    prefix = p.obj(f"prepend {selector}", x, y + 45)
    p.chain(p.obj(f"loadmess {default}", x, y - 20), menu)
    p.connect(menu, 1, prefix)  # the item's text
    p.connect(prefix, 0, external)


def number_setting(p: Patch, label: str, maxclass: str, default: str, selector: str, x: float, y: float,
                   external: str, width: float = 70.0) -> str:
    """A labelled number box set to `default` at load that sends `<selector> <value>`; returns the box."""
    p.comment(label, x, y)
    box = p.ui(maxclass, x, y + 20, width)
    p.chain(p.obj(f"loadmess {default}", x, y - 20), box, p.message(f"{selector} $1", x, y + 45), external)
    return box


def settings(p: Patch, external: str, stop_gate: str) -> str:
    """T, r, w, fade, packet size, max datagram, verbose and the instrument (to the external and the stop
    gate), all set at load. Returns the instrument menu, which the live-input routing also follows."""
    number_setting(p, "T (samples)", "number", "264600", "T", 20, 80, external, 90.0)
    menu_setting(p, "r (step ratio)", ["0.5", "0.25", "0.125", "0.0625"], 1, "r", 140, 80, external)
    menu_setting(p, "w (-1 retro, 0 now, 1 ahead)", ["-1", "0", "1"], 2, "w", 260, 80, external)
    number_setting(p, "fade (s)", "flonum", "0.02", "fade", 20, 170, external)
    menu_setting(p, "packet size (samples)", ["512", "1024", "1536", "4410", "8192"], 1, "packet_size", 140, 170,
                 external)
    number_setting(p, "max datagram (bytes): raise it (and macOS's net.inet.udp.maxdgram) for packets over 1536",
                   "number", "9216", "max_datagram", 300, 170, external)
    number_setting(p, "verbose", "toggle", "1", "verbose", 20, 260, external, 22.0)

    p.comment("instrument to generate", 140, 260)
    instrument = p.menu(list(STEMS), 140, 280)
    p.chain(p.obj("loadmess 0", 140, 240), instrument)
    route = p.obj("route " + " ".join(str(k) for k in range(len(STEMS))), 140, 305)
    p.connect(instrument, 0, route)
    for k in range(len(STEMS)):
        flags = " ".join("1" if j == k else "0" for j in range(len(STEMS)))
        one_hot = p.message(f"predict_instruments {flags}", 140, 330 + 25 * k)
        p.connect(route, k, one_hot)
        p.connect(one_hot, 0, external)
        p.connect(one_hot, 0, stop_gate)
    return instrument


def server(p: Patch, external: str) -> str:
    """Where the server is, and starting and stopping it. Returns the load_model message."""
    p.comment("Server: edit the start message to your command; rtap_server.js runs it in a shell, from this folder",
              460, 240, 420.0)
    script = p.obj(f"node.script {SERVER_SCRIPT} @autostart 1", 460, 320)
    p.connect(p.message(SERVER_COMMAND, 460, 265), 0, script)
    p.connect(p.message("stop", 460, 290), 0, script)
    p.connect(script, 0, p.obj("print rtap_server", 460, 345))
    for y, text in ((390, "server 127.0.0.1 7000"), (415, "listen 8000")):
        p.connect(p.message(text, 460, y), 0, external)
    load = p.message("load_model", 640, 390)
    p.connect(load, 0, external)
    return load


def utilities(p: Patch, external: str, buffer: str) -> None:
    p.comment("Test packet, Print (server debug dump), Clean (silence the generated stem), stats", 20, 440, 420.0)
    x = 20
    for text in ("test_packet", "print", "clear", "stats"):
        p.connect(p.message(text, x, 465), 0, external)
        x += 100
    p.comment("Load a 4-channel file (bass drums guitar piano), or Write the buffer~ to one", 20, 500, 420.0)
    p.connect(p.message("replace", 20, 525), 0, buffer)
    p.connect(p.message("write", 100, 525), 0, buffer)


def reports(p: Patch, external: str, load: str) -> str:
    """The external's outlet: the step for the step clock, `ready` to load the model once, the last
    complete batch and its round trip shown, everything else printed. Returns the route."""
    route = p.obj("route step ready batch rtt_ms", 460, 600)
    p.connect(external, 0, route)
    p.comment("last batch, round trip (ms)", 620, 625)
    p.connect(route, 2, p.ui("number", 620, 645, 70.0))
    p.connect(route, 3, p.ui("flonum", 700, 645, 70.0))
    p.connect(route, 4, p.obj("print rtap", 460, 680))
    gate = p.obj("gate 1 1", 540, 645)  # open for the first `ready` only: the core re-sends on a restart
    once = p.obj("t b b", 540, 670)
    p.connect(route, 1, gate, 1)
    p.connect(gate, 0, once)
    close = p.message("0", 580, 695)
    p.connect(once, 1, close)
    p.connect(close, 0, gate, 0)
    p.connect(once, 0, load)
    return route


def transport(p: Patch, external: str, groove: str, stop_gate: str) -> None:
    """Play/Pause (the groove~ speed), Stop/Reset (stop, back to 0, /reset, the stop gate closed), looping
    on at load."""
    p.comment("Play", 800, 60)
    play = p.ui("toggle", 800, 80, 22.0)
    p.chain(play, p.obj("sig~", 800, 110), groove)
    p.comment("Stop/Reset", 860, 60)
    stop = p.ui("button", 860, 80, 22.0)
    order = p.obj("t b b", 860, 110)
    p.connect(stop, 0, order)
    to_start = p.message("0", 900, 135)
    p.connect(order, 1, to_start)
    p.connect(to_start, 0, play)  # stops: speed 0
    p.connect(to_start, 0, groove)  # a number into groove~'s left inlet is a position in ms
    reset = p.message("reset", 860, 160)
    p.connect(order, 0, reset)
    p.connect(reset, 0, external)
    p.connect(reset, 0, stop_gate)
    loop = p.message("loop 1", 960, 110)
    p.chain(p.obj("loadbang", 960, 60), loop, groove)


def step_clock(p: Patch, external: str, groove: str, frames: str, route: str) -> None:
    """predict <curr> once per step of playback: curr = floor(playhead / step) * step."""
    p.comment("step clock: playhead -> step index -> on change, predict index * step", 800, 370, 300.0)
    poll = p.obj("snapshot~ 5", 800, 390)
    playhead = p.obj("* 0.", 800, 415)
    index = p.obj("/ 1.", 800, 440)
    whole = p.obj("i", 800, 465)
    changed = p.obj("change", 800, 490)
    curr = p.obj("* 1", 800, 515)
    predict = p.message("predict $1", 800, 540)
    p.connect(groove, len(STEMS), poll)  # the sync outlet: 0..1 across the buffer
    p.chain(poll, playhead, index, whole, changed, curr, predict, external)
    p.connect(frames, 0, playhead, 1)
    p.connect(route, 0, index, 1)
    p.connect(route, 0, curr, 1)


def buffer_length(p: Patch, buffer: str) -> str:
    """The buffer~'s length in frames (info~: rate x ms / 1000), after each load; returns its box."""
    info = p.obj(f"info~ {BUFFER}", 1000, 200)
    p.connect(buffer, 1, info)  # buffer~ bangs its right outlet when a file is loaded
    p.connect(p.obj("loadbang", 1000, 175), 0, info)
    rate_by_ms = p.obj("* 0.", 1000, 230)
    p.connect(info, 6, rate_by_ms, 1)  # total time in ms, before the rate out of the leftmost outlet
    p.connect(info, 0, rate_by_ms)
    frames = p.obj("/ 1000.", 1000, 255)
    p.connect(rate_by_ms, 0, frames)
    return frames


def live_input(p: Patch, groove: str, frames: str, instrument: str) -> None:
    """Live mode records inputs 1-4 into the stems' channels at the playhead, except the generated one.
    A channel's poke~ index is the playhead when it records and -1 (poke~ writes nothing) when not."""
    p.comment("Live input (off: Internal, the file's own stems)", 1120, 60)
    live = p.ui("toggle", 1120, 80, 22.0)
    which = p.obj("pak 0 0", 1120, 110)
    p.connect(live, 0, which)
    p.connect(instrument, 0, which, 1)
    playhead = p.obj("*~ 0.", 1120, 290)
    p.connect(groove, len(STEMS), playhead)
    p.connect(frames, 0, playhead, 1)
    inputs = p.obj("adc~ " + " ".join(str(k + 1) for k in range(len(STEMS))), 1120, 320)
    for k in range(len(STEMS)):
        x = 1120 + 110 * k
        records = p.obj(f"expr $i1 && ($i2 != {k})", x, 140 + 10 * k, 100.0)
        gated = p.obj("*~ 0.", x, 350)
        index = p.obj("+~ -1.", x, 375)
        minus_one = p.obj("- 1", x, 170 + 10 * k)
        poke = p.obj(f"poke~ {BUFFER} {k + 1}", x, 400)
        p.connect(which, 0, records)
        p.connect(records, 0, gated, 1)
        p.chain(records, minus_one)
        p.connect(minus_one, 0, index, 1)
        p.chain(playhead, gated, index)
        p.connect(index, 0, poke, 1)
        p.connect(inputs, k, poke)


def monitor(p: Patch, stop_gate: str) -> None:
    """Each stem out of the stop gate at half level to a meter and both speakers; waveform~ views of the
    four channels."""
    p.comment("monitor (edit the *~ levels); click the speaker to start audio", 800, 600, 300.0)
    dac = p.ui("ezdac~", 800, 720, 45.0)
    for k, stem in enumerate(STEMS):
        level = p.obj("*~ 0.5", 800 + 70 * k, 625)
        p.connect(stop_gate, k, level)
        p.connect(level, 0, p.ui("meter~", 800 + 70 * k, 655, 60.0))
        p.connect(level, 0, dac, 0)
        p.connect(level, 0, dac, 1)
        p.comment(stem, 1150, 485 + 90 * k, 80.0)
        p.ui("waveform~", 1230, 485 + 90 * k, 250.0, buffername=BUFFER, chanoffset=k + 1)


def stop_gate_switch(p: Patch, groove: str, stop_gate: str) -> None:
    """groove~'s stems into the stop gate, which silences the generated one once the band stops; a
    toggle, on at load, switches it (off: the stem plays as the server wrote it)."""
    for k in range(len(STEMS)):
        p.connect(groove, k, stop_gate, k)
    p.comment("stop with the band", 1000, 520, 130.0)
    switch = p.ui("toggle", 1000, 545, 22.0)
    p.chain(p.obj("loadmess 1", 1000, 495), switch, p.message("stopgate $1", 1030, 545), stop_gate)


def build() -> dict:
    p = Patch()
    p.comment("RTAP -- Real-Time Accompaniment Patch (jaxaccomp.multi_track)", 20, 10, 500.0)
    p.comment("Load a file, start the server, press Play: the chosen instrument is generated ahead of the playhead.",
              20, 30, 700.0)
    buffer = p.obj(f"buffer~ {BUFFER} 20000 {len(STEMS)}", 20, 560)
    external = p.obj(f"{EXTERNAL} {BUFFER} {' '.join(STEMS)}", 460, 560, 330.0)
    groove = p.obj(f"groove~ {BUFFER} {len(STEMS)}", 800, 180)
    stop_gate = p.obj(f"{STOP_GATE} {len(STEMS)}", 800, 575, 280.0)
    instrument = settings(p, external, stop_gate)
    load = server(p, external)
    utilities(p, external, buffer)
    route = reports(p, external, load)
    transport(p, external, groove, stop_gate)
    frames = buffer_length(p, buffer)
    step_clock(p, external, groove, frames, route)
    live_input(p, groove, frames, instrument)
    stop_gate_switch(p, groove, stop_gate)
    monitor(p, stop_gate)
    return p.document()


def render() -> str:
    return json.dumps(build(), indent="\t") + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
