"""`python -m jaxaccomp.eval.tempo_change`: does the part follow a band that speeds up or slows down?

A band pushes a chorus or pulls back at an ending; an accompanist who keeps the old tempo is soon a
beat off. Each rendered song of a split is played again with a tempo change (`jaxaccomp.data.retime`:
the same notes, moved): as written until `--at`, then the tempo moves over `--ramp` seconds to
`--factor` times the written one. Every stem's part is streamed as the clients play it (the stop gate
on, the checkpoint's recommended settings) three ways, and scored over the same stretches of the
song (as written) after the change starts, window by window (`--windows` of `--window` played
seconds in the changed stream):
- changed: the song with the change;
- steady: the whole song at the new tempo, so the part has only ever heard that tempo: what it
  could do (the pair of every difference);
- unchanged: the song as written, so the part never hears a change: what it does at those places
  without one.
Per window: the part's onset correlation with the real part of the same stream (`eval.follow`; an
accompanist half a beat off scores about 0), and its level over the real part's (dB).

Results under --out: parts/ (each streamed part, .npy: a rerun streams only what is missing),
tempo.json (per song and stem), summary.json (the table's figures); the table is printed. Paired
differences (changed minus steady) are mean +- standard error over songs and stems, with how many
clips did better. Needs songs rendered by `jaxaccomp.data.render` (it composes them again) and the
soundfont they were rendered with.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.constants import STEMS
from jaxaccomp.data.render import DEFAULT_SOUNDFONT, Synthesizer
from jaxaccomp.data.retime import TempoChange, recorded_song, retimed_stems
from jaxaccomp.data.slakh import Track, load_split
from jaxaccomp.eval.compare import paired_difference
from jaxaccomp.eval.streamed_parts import (Streamer, add_stream_arguments, check_outputs, open_streamer, seconds,
                                          stream_settings, window_figures, write_results)

STREAMS = ("changed", "steady", "unchanged")
ROWS_FILE = "tempo.json"


def score_spans(change: TempoChange, count: int, width_s: float) -> list[tuple[float, float]]:
    """The stretches of the song as written that the changed stream plays in each window after the change."""
    edges = [change.score(change.at_s + k * width_s) for k in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def played_span(span: tuple[float, float], change: TempoChange) -> slice:
    """Samples in which a stream played with `change` plays the written stretch `span`."""
    return slice(seconds(change.played(span[0])), seconds(change.played(span[1])))


def score_windows(part: np.ndarray, truth: np.ndarray, spans: Sequence[tuple[float, float]],
                  change: TempoChange) -> list[dict]:
    """Onset correlation and level (dB) of `part` against `truth` over each written stretch, as played."""
    return [window_figures(part, truth, played_span(span, change)) for span in spans]


def changes(args: argparse.Namespace) -> dict[str, TempoChange]:
    """How each of the three streams plays the song (see the module docstring)."""
    return {"changed": TempoChange(args.at, args.factor, args.ramp), "steady": TempoChange(0.0, args.factor),
            "unchanged": TempoChange(0.0, 1.0)}


def song_rows(stream: Streamer, synth: Synthesizer, song: Track, data_split: Path, stems: Sequence[str],
              args: argparse.Namespace) -> list[dict]:
    """The three streams of one song, per stem."""
    plays = changes(args)
    spans = score_spans(plays["changed"], args.windows, args.window)
    audio = {name: retimed_stems(synth, data_split / song.id, change, seconds(change.played(spans[-1][1])))
             for name, change in plays.items()}
    rows = []
    for stem in stems:
        j = STEMS.index(stem)
        row = {"song": song.id, "stem": stem}
        for name, change in plays.items():
            part = stream(f"{song.id}_{name}", audio[name], stem)
            row[name] = score_windows(part, audio[name][j], spans, change)
        rows.append(row)
    return rows


def summarise(rows: list[dict], spans: Sequence[tuple[float, float]], change: TempoChange) -> dict:
    """Per window: each stream's mean onset correlation, the changed-minus-steady paired difference, levels."""
    table = []
    for k, span in enumerate(spans):
        onset = {name: np.array([row[name][k]["onset"] for row in rows]) for name in STREAMS}
        table.append({"from_s": change.played(span[0]) - change.at_s, "to_s": change.played(span[1]) - change.at_s,
                      "score_from_s": span[0], "score_to_s": span[1],
                      **{f"onset_{name}": float(onset[name].mean()) for name in STREAMS},
                      **paired_difference(onset["changed"] - onset["steady"]),
                      **{f"level_db_{name}": float(np.median([row[name][k]["level_db"] for row in rows]))
                         for name in STREAMS}})
    by_stem = {stem: [float(np.mean([row["changed"][k]["onset"] for row in rows if row["stem"] == stem]))
                      for k in range(len(spans))] for stem in dict.fromkeys(row["stem"] for row in rows)}
    return {"windows": table, "changed_onset_by_stem": by_stem, "clips": len(rows)}


def print_table(summary: dict, change: TempoChange) -> None:
    print(f"tempo x{change.factor:g} over {change.ramp_s:g} s from {change.at_s:g} s: onset correlation with the real "
          "part (paired: changed - steady), median level dB of the changed stream")
    print(f"{'after (s)':>9s} {'changed':>8s} {'steady':>7s} {'unchanged':>9s} {'difference':>15s} {'better':>7s} "
          f"{'level':>6s}")
    for row in summary["windows"]:
        print(f"{row['from_s']:4.1f}-{row['to_s']:<4.1f} {row['onset_changed']:8.2f} {row['onset_steady']:7.2f} "
              f"{row['onset_unchanged']:9.2f} {row['difference']:+7.2f} +- {row['standard_error'] or 0.0:.2f} "
              f"{row['better']:3d}/{row['clips']:<3d} {row['level_db_changed']:+6.1f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxaccomp.eval.tempo_change", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder of songs rendered by jaxaccomp.data.render")
    p.add_argument("--songs", type=int, help="only the first N songs of the split (default: all)")
    add_stream_arguments(p, ROWS_FILE)
    p.add_argument("--at", type=float, default=14.0, help="seconds into the song when the tempo starts to move (default: 14)")
    p.add_argument("--factor", type=float, default=1.1, help="the new tempo over the written one (default: 1.1, 10 %% faster)")
    p.add_argument("--ramp", type=float, default=4.0, help="seconds over which the tempo moves (default: 4; 0: at once)")
    p.add_argument("--windows", type=int, default=4, help="windows scored after the change starts (default: 4)")
    p.add_argument("--window", type=float, default=3.0, help="window length in played seconds (default: 3)")
    p.add_argument("--soundfont", default=DEFAULT_SOUNDFONT, help="the soundfont the songs were rendered with")
    return p


def check(args: argparse.Namespace, tracks: Sequence[Track], settings: dict) -> None:
    """Refuse, before any model is loaded, settings that cannot be scored."""
    if not tracks:
        raise ValueError(f"no songs in {args.data / args.split}")
    change = TempoChange(args.at, args.factor, args.ramp)  # refuses a factor or ramp out of range
    if not (args.at > 0 and args.window > 0 and args.windows >= 1):
        raise ValueError("--at and --window must be positive and --windows at least 1")
    for track in tracks:
        written_s = recorded_song(args.data / args.split / track.id)["duration"]
        need_s = change.score(args.at + args.windows * args.window)
        if need_s > written_s:
            raise ValueError(f"{track.id} is {written_s:.1f} s as written; the windows after the change need {need_s:.1f} s "
                             "(lower --at, --windows or --window)")
    check_outputs(args.out, settings, ROWS_FILE, args.force)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tracks = load_split(args.data, args.split).tracks[:args.songs]
    settings = stream_settings(args, {"at_s": args.at, "factor": args.factor, "ramp_s": args.ramp,
                                      "scored_s": args.windows * args.window})
    check(args, tracks, settings)
    synth = Synthesizer(args.soundfont)
    stream = open_streamer(args, settings)
    rows = []
    for i, song in enumerate(tracks):
        rows += song_rows(stream, synth, song, args.data / args.split, args.stems, args)
        print(f"{song.id}: done ({i + 1}/{len(tracks)})", flush=True)
    change = changes(args)["changed"]
    summary = summarise(rows, score_spans(change, args.windows, args.window), change)
    write_results(args, ROWS_FILE, rows, summary, settings, [t.id for t in tracks], stream)
    print_table(summary, change)
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
