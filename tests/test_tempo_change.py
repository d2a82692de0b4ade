"""A rendered song played again at another tempo (jaxaccomp.data.retime), and
`python -m jaxaccomp.eval.tempo_change` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.data.retime import TempoChange
from jaxaccomp.eval import tempo_change, streamed_parts

TEMPO_ARGS = ["--split", "test", "--r", "1/2", "--w", "-1", "--stems", "drums", "--at", "2", "--ramp", "1",
              "--windows", "2", "--window", "1.5"]  # needs about 5.4 s of song as written: seed 6 composes 8.2 and 9.0


def test_tempo_change_maps_score_to_played_time_and_back() -> None:
    change = TempoChange(at_s=10.0, factor=1.25, ramp_s=4.0)
    assert change.played(5.0) == 5.0 and change.score(5.0) == 5.0
    assert change.ramp_end_score_s == pytest.approx(10.0 + 4.0 * 1.125)
    assert change.played(change.ramp_end_score_s) == pytest.approx(14.0)
    assert change.played(change.ramp_end_score_s + 5.0) == pytest.approx(14.0 + 4.0)  # 25 % faster after the ramp
    scores = np.linspace(0.0, 30.0, 301)
    played = np.array([change.played(s) for s in scores])
    assert np.all(np.diff(played) > 0)
    assert np.allclose([change.score(p) for p in played], scores, atol=1e-9)
    slower = TempoChange(at_s=3.0, factor=0.8)  # at once
    assert slower.played(4.0) == pytest.approx(3.0 + 1.0 / 0.8)
    with pytest.raises(ValueError, match="factor > 0"):
        TempoChange(1.0, 0.0)


def test_retimed_song_is_the_rendered_song_until_the_change_and_moves_after_it(sweep) -> None:
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, Synthesizer
    from jaxaccomp.data.retime import retimed_stems
    from jaxaccomp.data.slakh import load_split
    from jaxaccomp.eval.follow import onset_envelope

    track = load_split(sweep / "data", "test").tracks[0]
    folder = sweep / "data" / "test" / track.id
    synth = Synthesizer(DEFAULT_SOUNDFONT)
    samples = 6 * SAMPLE_RATE
    same = retimed_stems(synth, folder, TempoChange(2.0, 1.0, 1.0), samples)
    assert np.abs(same - track.read(0, samples)).max() <= 2.0 / 32768  # the 16-bit files, to their rounding
    faster = retimed_stems(synth, folder, TempoChange(2.0, 1.5), samples)
    before = slice(0, SAMPLE_RATE)  # a note ringing across the change may differ just before it
    assert np.abs(faster[:, before] - same[:, before]).max() <= 1e-6
    drums = 1  # STEMS order; the drums play every beat, so their onsets show the tempo
    written = onset_envelope(same[drums, 2 * SAMPLE_RATE:])
    played = onset_envelope(faster[drums, 2 * SAMPLE_RATE:])
    lags = np.arange(-60, 61)
    # after the change the played drums are the written ones compressed by 1.5: they correlate best so
    squeezed = np.interp(np.arange(played.size) * 1.5, np.arange(written.size), written)
    assert np.corrcoef(played[:200], squeezed[:200])[0, 1] > 0.8
    assert max(np.corrcoef(played[:200], np.roll(written, k)[:200])[0, 1] for k in lags) < 0.8
    (folder.parent / "unrendered").mkdir()
    with pytest.raises(ValueError, match="no render.json"):
        retimed_stems(synth, folder.parent / "unrendered", TempoChange(1.0, 1.1), samples)
    (folder.parent / "unrendered").rmdir()


def test_score_spans_pair_the_same_written_stretches() -> None:
    change = TempoChange(at_s=4.0, factor=2.0)
    spans = tempo_change.score_spans(change, 2, 1.5)
    assert spans == [(4.0, 7.0), (7.0, 10.0)]  # twice as fast: 1.5 played seconds hold 3 written ones
    steady = TempoChange(0.0, 2.0)
    assert tempo_change.played_span(spans[0], steady) == slice(2 * SAMPLE_RATE, int(3.5 * SAMPLE_RATE))


def test_tempo_change_end_to_end_resume_and_refusals(sweep, capsys) -> None:
    """Three streams per song with a tiny model; a rerun streams nothing again, and what cannot be
    scored or would be lost is refused before anything is streamed."""
    out = sweep / "tempo"
    argv = ["--data", str(sweep / "data"), "--out", str(out), "--checkpoint", str(sweep / "cd"), *TEMPO_ARGS]
    assert tempo_change.main(argv) == 0
    rows = json.loads((out / tempo_change.ROWS_FILE).read_text())
    summary = json.loads((out / streamed_parts.SUMMARY_FILE).read_text())
    assert [(row["song"], row["stem"]) for row in rows] == [(s, "drums") for s in summary["settings"]["songs"]]
    for row in rows:
        for name in tempo_change.STREAMS:
            assert len(row[name]) == 2 and all(-1 <= window["onset"] <= 1 for window in row[name])
    assert [w["clips"] for w in summary["windows"]] == [2, 2] and summary["settings"]["factor"] == 1.1
    assert summary["windows"][0]["from_s"] == pytest.approx(0.0) and summary["windows"][1]["to_s"] == pytest.approx(3.0)
    assert "tempo x1.1 over 1 s from 2 s" in capsys.readouterr().out
    parts = sorted((out / streamed_parts.PARTS_DIR).glob("*.npy"))
    assert len(parts) == 6  # 2 songs x (changed, steady, unchanged)
    stamps = [p.stat().st_mtime_ns for p in parts]

    with pytest.raises(FileExistsError, match="--force"):
        tempo_change.main(argv)
    assert tempo_change.main([*argv, "--force"]) == 0
    assert [p.stat().st_mtime_ns for p in parts] == stamps  # every part reused
    with pytest.raises(ValueError, match="other settings"):
        tempo_change.main([*argv, "--force", "--factor", "0.9"])
    with pytest.raises(ValueError, match="the windows after the change need"):
        tempo_change.main([*argv[:-2], "--window", "4", "--out", str(sweep / "other")])
    with pytest.raises(ValueError, match="factor > 0"):
        tempo_change.main([*argv, "--factor", "0", "--out", str(sweep / "other")])
    assert not (sweep / "other").exists()
