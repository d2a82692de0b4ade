"""What a streamed session leaves behind: the accompaniment, the mix and a latency report."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from jaxaccomp import stop_gate
from jaxaccomp.client.core import ClientCore
from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.provenance import provenance


def latency_report(core: ClientCore, wall_s: float) -> dict:
    """Settings, the server's identity and timings, and the client's counters, JSON-ready."""
    s = core.settings
    server = core.server
    return {
        "settings": {**asdict(s.stream), "package_size": s.package_size,
                     "stems": list(s.stems), "blob": s.blob, "position": s.position,
                     "server_ramps_lead_in": s.ramped, "stop_gate": s.stop_gate},
        "server": ({"name": server.server, "protocol": server.protocol, "capabilities": list(server.capabilities)}
                   if server is not None else {"name": "reference (no /hello_reply)"}),
        "step_budget_ms": s.stream.step_budget_ms,
        "client": core.stats.summary(),
        "server_stats": core.server_stats,
        "wall_s": wall_s,
        "produced_by": provenance(),
    }


def heard_tracks(core: ClientCore, context: np.ndarray) -> np.ndarray:
    """[stems, L] what a listener heard: the tracks the replies were written into, through the stop gate
    unless the client was set without it (the gate depends on the context alone, so applying it after
    the session is applying it live)."""
    return stop_gate.apply(core.tracks, context, SAMPLE_RATE) if core.settings.stop_gate else core.tracks


def write_session(out: Path, context: np.ndarray, core: ClientCore, wall_s: float) -> dict:
    """Write accompaniment.wav (one channel per stem, as heard), mix.wav and latency.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    heard = heard_tracks(core, context)
    sf.write(str(out / "accompaniment.wav"), heard.T, SAMPLE_RATE, subtype="FLOAT")
    sf.write(str(out / "mix.wav"), context + heard.sum(axis=0), SAMPLE_RATE, subtype="FLOAT")
    report = latency_report(core, wall_s)
    (out / "latency.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def summary_lines(report: dict) -> list[str]:
    """A short human-readable table of the report."""
    c = report["client"]
    lines = [f"server: {report['server']['name']}; step budget {report['step_budget_ms']:.0f} ms",
             f"batches {c['batches']}: complete {c['complete']}, dropped by the server {c['dropped']}, "
             f"incomplete {c['incomplete']}; stale chunks {c['stale_chunks']}",
             f"round trip (send -> /server_predicted): median {_ms(c['round_trip_median_ms'])}, "
             f"p95 {_ms(c['round_trip_p95_ms'])}, max {_ms(c['round_trip_max_ms'])}",
             f"late samples {c['late_samples']} of {c['written_samples']} written "
             "(arrived after the playhead passed them)"]
    stages = {k.removeprefix("median_").removesuffix("_ms"): v for k, v in report["server_stats"].items()
              if k.startswith("median_")}
    if stages:
        lines.append("server median per cycle: " + ", ".join(f"{k} {v:.0f} ms" for k, v in stages.items()))
    return lines


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
