"""`python -m jaxaccomp.eval.events`: what the part does when the band stops, or moves on to another song.

The regime sweep (`python -m jaxaccomp.eval`) streams whole songs; a musician also notices what
happens on the way: a band that stops for a few bars and comes back, or that ends one song and starts
the next. Each song A of a split, with B the next song of the split as its partner, is streamed for
every stem as the clients play it (the stop gate on, the checkpoint's recommended settings), with two
events, each paired with a stream that has none:
- pause: every stem of A silent for `--pause` seconds from `--at`; paired with A unbroken. Reported:
  the part's level while the band is silent (dBFS, once the stop gate has had its hold and release;
  -120 is digital silence), how soon it sounds again once the band is back (`sounds_again_s`; the
  real part's is `truth_sounds_again_s`), and per window after the return its onset correlation
  with the real part and its level.
- cut: A until `--at`, then B from its `PARTNER_FROM_S`-th second; paired with B streamed from that
  second on, a stream that heard B from its start: what the part could do, warming up included.
  Reported per window after the cut, as above.
- next song: A until `--at`, `--pause` seconds of silence, then B as in the cut (a band that ends one
  song and starts the next); paired and reported as the cut, from the moment B starts.
Windows are `--windows` of `--window` seconds; onset correlation is `eval.follow`'s, the level is the
part's RMS over the real part's (dB). Only the seconds scored are streamed (a stream is causal).

Results under --out: parts/ (each streamed part, .npy: a rerun streams only what is missing),
events.json (per song and stem), summary.json (the table's figures); the table is printed. Paired
differences are mean +- standard error over songs and stems, with how many clips did better.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp import stop_gate
from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.data.slakh import Track, load_split
from jaxaccomp.eval.compare import paired_difference
from jaxaccomp.eval.streamed_parts import (Streamer, add_stream_arguments, check_outputs, open_streamer, seconds,
                                          stream_settings, window_figures, write_results)

PARTNER_FROM_S = 4.0  # B is joined past its first bars, as a band starting its next song mid-groove would not be
SOUNDS_BLOCK_S = 0.093  # the resolution of `sounds_again_s`: 4096 samples
SOUNDS_WITHIN_DB = 10.0  # a block sounds again when its RMS is within this of the part's level after the return
SOUNDS_SEARCH_S = 6.0  # how long after the return it is looked for (None: not within it)
EVENTS = (("pause", "unbroken"), ("cut", "fresh"), ("next_song", "fresh"))  # each event and the stream it is paired with
ROWS_FILE = "events.json"


def paused(stems: np.ndarray, at_s: float, pause_s: float) -> np.ndarray:
    """`stems` with every stem silent from `at_s` for `pause_s` seconds."""
    out = stems.copy()
    out[:, seconds(at_s):seconds(at_s + pause_s)] = 0.0
    return out


def cut(first: np.ndarray, second: np.ndarray, at_s: float) -> np.ndarray:
    """`first` until `at_s`, then `second` (both [stems, samples])."""
    return np.concatenate([first[:, :seconds(at_s)], second], axis=1)


def windows(part: np.ndarray, truth: np.ndarray, start_s: float, count: int, width_s: float) -> list[dict]:
    """Onset correlation and level (dB) of `part` against `truth` over `count` windows from `start_s`."""
    return [window_figures(part, truth, slice(seconds(start_s + k * width_s), seconds(start_s + (k + 1) * width_s)))
            for k in range(count)]


def rms_db(audio: np.ndarray) -> float:
    """RMS level in dBFS, -120 for digital silence."""
    return float(10.0 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


def sounds_again(audio: np.ndarray, start_s: float, level_db: float) -> float | None:
    """Seconds after `start_s` until a block of `audio` is within `SOUNDS_WITHIN_DB` of `level_db`."""
    block = seconds(SOUNDS_BLOCK_S)
    first = seconds(start_s)
    for k in range(int(SOUNDS_SEARCH_S / SOUNDS_BLOCK_S)):
        piece = audio[first + k * block:first + (k + 1) * block]
        if piece.size and rms_db(piece) > level_db - SOUNDS_WITHIN_DB:
            return k * SOUNDS_BLOCK_S
    return None


def song_rows(stream: Streamer, song: Track, partner: Track, stems: Sequence[str], args: argparse.Namespace) -> list[dict]:
    """Both events of one song, per stem (see the module docstring)."""
    scored_s = args.windows * args.window
    back_s = args.at + args.pause
    a = song.read(0, seconds(back_s + scored_s))
    b = partner.read(seconds(PARTNER_FROM_S), seconds(scored_s))
    broken, switched = paused(a, args.at, args.pause), cut(a, b, args.at)
    next_song = cut(broken, b, back_s)
    rows = []
    for stem in stems:
        j = STEMS.index(stem)
        part, unbroken = stream(f"{song.id}_pause", broken, stem), stream(f"{song.id}_whole", a, stem)
        after_cut, fresh = stream(f"{song.id}_cut", switched, stem), stream(f"{partner.id}_from", b, stem)
        after_gap = stream(f"{song.id}_next", next_song, stem)
        during = slice(seconds(args.at + stop_gate.HOLD_S + stop_gate.RELEASE_S), seconds(back_s))  # the gate has shut
        level_after = rms_db(unbroken[seconds(back_s):seconds(back_s + scored_s)])
        rows.append({
            "song": song.id, "partner": partner.id, "stem": stem,
            "pause": {"after": windows(part, broken[j], back_s, args.windows, args.window),
                      "unbroken": windows(unbroken, a[j], back_s, args.windows, args.window),
                      "part_during_dbfs": rms_db(part[during]),
                      "sounds_again_s": sounds_again(part, back_s, level_after),
                      "truth_sounds_again_s": sounds_again(broken[j], back_s, rms_db(a[j][seconds(back_s):]))},
            "cut": {"after": windows(after_cut, switched[j], args.at, args.windows, args.window),
                    "fresh": windows(fresh, b[j], 0.0, args.windows, args.window)},
            "next_song": {"after": windows(after_gap, next_song[j], back_s, args.windows, args.window),
                          "fresh": windows(fresh, b[j], 0.0, args.windows, args.window)}})
    return rows


def summarise(rows: list[dict], count: int, width_s: float) -> dict:
    """Per event and window: the event's and the paired stream's mean figures and their paired difference."""
    out: dict = {}
    for event, pair_key in EVENTS:
        table = []
        for k in range(count):
            onset = np.array([row[event]["after"][k]["onset"] for row in rows])
            paired = np.array([row[event][pair_key][k]["onset"] for row in rows])
            table.append({"from_s": k * width_s, "to_s": (k + 1) * width_s, "onset": float(onset.mean()),
                          f"onset_{pair_key}": float(paired.mean()), **paired_difference(onset - paired),
                          "level_db": float(np.median([row[event]["after"][k]["level_db"] for row in rows])),
                          f"level_db_{pair_key}": float(np.median([row[event][pair_key][k]["level_db"] for row in rows]))})
        out[event] = table
        out[f"{event}_onset_by_stem"] = {stem: [float(np.mean([row[event]["after"][k]["onset"] for row in rows
                                                               if row["stem"] == stem])) for k in range(count)]
                                         for stem in dict.fromkeys(row["stem"] for row in rows)}
    again = [row["pause"]["sounds_again_s"] for row in rows]
    during = [row["pause"]["part_during_dbfs"] for row in rows]
    out["pause_part_dbfs_median"], out["pause_part_dbfs_max"] = float(np.median(during)), float(np.max(during))
    out["pause_sounds_again_within_0.5_s"] = sum(1 for s in again if s is not None and s <= 0.5)
    out["clips"] = len(rows)
    return out


def print_table(summary: dict) -> None:
    for event, pair in EVENTS:
        print(f"{event}: onset correlation with the real part after the event (paired against the {pair} stream), "
              "median level dB")
        print(f"{'window':>9s} {'onset':>6s} {pair:>9s} {'difference':>15s} {'better':>7s} {'level':>6s} {pair:>9s}")
        for row in summary[event]:
            print(f"{row['from_s']:4.1f}-{row['to_s']:<4.1f} {row['onset']:6.2f} {row[f'onset_{pair}']:9.2f} "
                  f"{row['difference']:+7.2f} +- {row['standard_error'] or 0.0:.2f} {row['better']:3d}/{row['clips']:<3d} "
                  f"{row['level_db']:+6.1f} {row[f'level_db_{pair}']:+9.1f}")
    print(f"while the band pauses the part is at {summary['pause_part_dbfs_median']:.0f} dBFS (median; loudest "
          f"{summary['pause_part_dbfs_max']:.0f}); it sounds again within 0.5 s of the band in "
          f"{summary['pause_sounds_again_within_0.5_s']}/{summary['clips']} clips")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxaccomp.eval.events", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="dataset folder holding <split>/ (e.g. rendered songs)")
    p.add_argument("--songs", type=int, help="only the first N songs of the split (default: all; at least 2)")
    add_stream_arguments(p, ROWS_FILE)
    p.add_argument("--at", type=float, default=14.0, help="seconds into the song when the band pauses or cuts (default: 14)")
    p.add_argument("--pause", type=float, default=4.0, help="length of the pause in seconds (default: 4)")
    p.add_argument("--windows", type=int, default=3, help="windows scored after each event (default: 3; with the defaults a song needs 27 s)")
    p.add_argument("--window", type=float, default=3.0, help="window length in seconds (default: 3)")
    return p


def check(args: argparse.Namespace, tracks: Sequence[Track], settings: dict) -> None:
    """Refuse, before any model is loaded, settings that cannot be scored."""
    if len(tracks) < 2:
        raise ValueError(f"the events need at least two songs (a song and the one it cuts to), got {len(tracks)}")
    if min(args.at, args.pause, args.window) <= 0 or args.windows < 1:
        raise ValueError("--at, --pause and --window must be positive and --windows at least 1")
    need = {"a song": args.at + args.pause + args.windows * args.window,
            "a partner": PARTNER_FROM_S + args.windows * args.window}
    for track in tracks:
        for what, need_s in need.items():
            if track.length < seconds(need_s):
                raise ValueError(f"{track.id} is {track.length / SAMPLE_RATE:.1f} s; as {what} it needs {need_s:g} s "
                                 "(lower --at, --pause, --windows or --window)")
    check_outputs(args.out, settings, ROWS_FILE, args.force)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tracks = load_split(args.data, args.split).tracks[:args.songs]
    settings = stream_settings(args, {"at_s": args.at, "pause_s": args.pause, "scored_s": args.windows * args.window,
                                      "partner_from_s": PARTNER_FROM_S})
    check(args, tracks, settings)
    stream = open_streamer(args, settings)
    rows = []
    for i, song in enumerate(tracks):
        rows += song_rows(stream, song, tracks[(i + 1) % len(tracks)], args.stems, args)
        print(f"{song.id}: done ({i + 1}/{len(tracks)})", flush=True)
    summary = summarise(rows, args.windows, args.window)
    write_results(args, ROWS_FILE, rows, summary, settings, [t.id for t in tracks], stream)
    print_table(summary)
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
