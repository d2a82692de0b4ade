"""python -m jaxaccomp.eval.events: a band that pauses, cuts to another song or starts the next, its parts
and end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.eval import events, streamed_parts

EVENT_ARGS = ["--split", "test", "--r", "1/2", "--w", "-1", "--stems", "drums", "--at", "3", "--pause", "1",
              "--windows", "2", "--window", "1.5"]  # needs 7 s of song and of partner: seed 6 renders 8.2 and 9.0


def test_pause_silences_every_stem_for_its_seconds_only() -> None:
    stems = np.ones((4, 5 * SAMPLE_RATE), np.float32)
    out = events.paused(stems, 1.0, 2.0)
    assert not out[:, SAMPLE_RATE:3 * SAMPLE_RATE].any()
    assert out[:, :SAMPLE_RATE].all() and out[:, 3 * SAMPLE_RATE:].all() and stems.all()  # the input is kept


def test_cut_joins_the_first_song_to_the_second_at_its_second() -> None:
    first, second = np.ones((4, 5 * SAMPLE_RATE), np.float32), 2 * np.ones((4, 2 * SAMPLE_RATE), np.float32)
    out = events.cut(first, second, 1.5)
    assert out.shape == (4, events.seconds(1.5) + 2 * SAMPLE_RATE)
    assert (out[:, :events.seconds(1.5)] == 1).all() and (out[:, events.seconds(1.5):] == 2).all()


def test_windows_score_onsets_and_level_against_the_real_part() -> None:
    rng = np.random.default_rng(0)
    clicks = np.zeros(4 * SAMPLE_RATE, np.float32)
    for at in rng.choice(4 * SAMPLE_RATE - 2000, 16, replace=False):
        clicks[at:at + 2000] += rng.standard_normal(2000).astype(np.float32) * np.exp(-np.arange(2000) / 200.0)
    rows = events.windows(0.5 * clicks, clicks, 1.0, 2, 1.5)
    assert len(rows) == 2
    for row in rows:
        assert row["onset"] == pytest.approx(1.0) and row["level_db"] == pytest.approx(-6.02, abs=0.01)
    assert events.windows(np.roll(clicks, 9000), clicks, 0.0, 1, 4.0)[0]["onset"] < 0.5  # a fifth of a second late


def test_sounds_again_finds_the_first_block_near_the_parts_level() -> None:
    tone = np.sin(2 * np.pi * 220 * np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
    tone[:SAMPLE_RATE] = 0.0
    again = events.sounds_again(tone, 0.5, events.rms_db(tone[SAMPLE_RATE:]))
    assert again == pytest.approx(0.5, abs=events.SOUNDS_BLOCK_S)
    assert events.sounds_again(np.zeros_like(tone), 0.5, -3.0) is None


def test_events_end_to_end_resume_and_refusals(sweep, capsys) -> None:
    """Both events on two rendered songs with a tiny model; a rerun streams nothing again, and what
    cannot be scored or would be lost is refused before anything is streamed."""
    out = sweep / "events"
    argv = ["--data", str(sweep / "data"), "--out", str(out), "--checkpoint", str(sweep / "cd"), *EVENT_ARGS]
    assert events.main(argv) == 0
    rows = json.loads((out / events.ROWS_FILE).read_text())
    summary = json.loads((out / streamed_parts.SUMMARY_FILE).read_text())
    assert [(row["song"], row["stem"]) for row in rows] == [(s, "drums") for s in summary["settings"]["songs"]]
    assert rows[0]["partner"] == rows[1]["song"] and rows[1]["partner"] == rows[0]["song"]
    for row in rows:
        for event, pair in events.EVENTS:
            assert len(row[event]["after"]) == len(row[event][pair]) == 2
            assert all(-1 <= window["onset"] <= 1 for window in row[event]["after"] + row[event][pair])
    assert [w["clips"] for w in summary["cut"]] == [2, 2] and summary["settings"]["r"] == 0.5
    table = capsys.readouterr().out
    assert all(f"{event}: onset correlation" in table for event, _ in events.EVENTS)
    assert list(summary["cut_onset_by_stem"]) == ["drums"] and len(summary["cut_onset_by_stem"]["drums"]) == 2
    parts = sorted((out / streamed_parts.PARTS_DIR).glob("*.npy"))
    assert len(parts) == 10  # 2 songs x (pause, whole, cut, next song, partner from its 4th second)
    stamps = [p.stat().st_mtime_ns for p in parts]

    with pytest.raises(FileExistsError, match="--force"):
        events.main(argv)
    assert events.main([*argv, "--force"]) == 0
    assert [p.stat().st_mtime_ns for p in parts] == stamps  # every part reused
    assert json.loads((out / events.ROWS_FILE).read_text()) == rows
    with pytest.raises(ValueError, match="other settings"):
        events.main([*argv, "--force", "--seed", "1"])
    with pytest.raises(ValueError, match="needs 11 s"):
        events.main([*argv[:-2], "--window", "3.5", "--out", str(sweep / "other")])
    assert not (sweep / "other").exists()
