"""python -m jaxaccomp.eval: the sweep end to end on two rendered songs with tiny models, and its parts."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from jaxaccomp.constants import STEMS
from jaxaccomp.eval import beats, cli, follow, frechet, loudness, metrics, report
from jaxaccomp.eval.clips import REFERENCES, Regime, delay, fit_length, grid, random_partners, round_trip

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
ARGS = ["--split", "test", "--diffusion-steps", "2", "--consistency-steps", "1", "--r", "1/2", "1",
        "--w", "-1", "1", "--stems", "drums", "--no-progress"]


# ----------------------------------------------------------------------------------------------
# The whole sweep


def run_sweep(root: Path, *extra: str) -> int:
    return cli.main(["--data", str(root / "data"), "--out", str(root / "out"), "--checkpoint", str(root / "edm"),
                     "--checkpoint", str(root / "cd"), *ARGS, *extra])


def captured_sweep(root: Path, *extra: str) -> tuple[str, str]:
    """run_sweep's (stdout, stderr); it must succeed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert run_sweep(root, *extra) == 0
    return out.getvalue(), err.getvalue()


@dataclass
class FinishedSweep:
    """What three runs into one results folder printed and left behind (see `finished_sweep`)."""

    root: Path
    first_err: str
    first_settings: dict
    first_audio: list[Path]  # the r0.5_w-1 stems, as the first run wrote them
    first_stamps: list[int]
    first_mixes: list[Path]
    second_err: str
    second_stamps: list[int]
    third_out: str
    third_err: str


@pytest.fixture(scope="module")
def finished_sweep(sweep) -> FinishedSweep:
    """The sweep run three times into one folder, whichever test asks first: beat metrics only and no
    codec round trip (as before those were added), then everything in 2 processes, then once more."""
    out = sweep / "out"
    _, first_err = captured_sweep(sweep, "--metrics", "beat_f1", "beat_f1_grid", "--mixes",
                                  "--references", "silence", "half_beat_shift")
    first_settings = json.loads((out / "settings.json").read_text())
    audio = sorted(out.glob("clips/*/r0.5_w-1/*-drums.flac"))
    stamps = [p.stat().st_mtime_ns for p in audio]
    mixes = sorted(out.glob("clips/*/r0.5_w-1/*.mix.flac"))
    _, second_err = captured_sweep(sweep, "--workers", "2")
    second_stamps = [p.stat().st_mtime_ns for p in audio]
    third_out, third_err = captured_sweep(sweep)
    return FinishedSweep(sweep, first_err, first_settings, audio, stamps, mixes, second_err, second_stamps,
                         third_out, third_err)


def test_sweep_scores_every_clip_resumes_and_orders_the_references(finished_sweep):
    run, out = finished_sweep, finished_sweep.root / "out"
    err = run.first_err
    assert "skipping r=0.5 w=1: (w+2)*r must be at most 1" in err
    assert "skipping r=1 w=-1: a step of 264600 samples" in err  # a 6-s step cannot fit 64 columns
    assert "12 clips evaluated, 0 already done" in err  # 2 songs x 1 stem x (4 references + 2 models x 1 regime)
    assert "round_trip_codec" not in run.first_settings
    assert len(run.first_audio) == 4
    assert len(run.first_mixes) == 4
    assert loudness.loudness(sf.read(run.first_mixes[0], dtype="float32")[0], SR) == pytest.approx(-18, abs=0.1)

    # A metric added later is computed from the kept audio: nothing is generated again (in 2 processes);
    # the codec round trip joins the folder, its codec recorded.
    assert "14 clips evaluated, 0 already done" in run.second_err
    assert run.second_stamps == run.first_stamps
    settings = json.loads((out / "settings.json").read_text())
    assert settings["round_trip_codec"] == settings["models"]["edm"]["codec"]  # the models' own
    assert len(settings["models"]["edm"]["sha256"]) == 16  # other weights under this name are refused
    assert settings["models"]["edm"]["dtype"] == "float32"  # a --dtype bfloat16 run is refused here too

    # Everything done: a third run only reports.
    assert "0 clips evaluated, 14 already done" in run.third_err
    assert "wall time" in run.third_err
    assert run.third_out.splitlines()[0].startswith("source\tregime\tlookahead_s\tbeat_f1_mean")

    summary = json.loads((out / "summary.json").read_text())
    assert summary["regimes"] == ["r0.5_w-1"] and set(summary["skipped_regimes"]) == {"r0.5_w+1", "r1_w-1", "r1_w+1"}
    assert summary["produced_by"]["jaxaccomp"] and "command" in summary["produced_by"]
    rows = {(row["source"], row["stem"]): row for row in summary["rows"]}
    assert len(rows) == 2 * 7  # (5 references + 2 models) x (drums, all)
    columns = [m.name if isinstance(m, metrics.SetMetric) else f"{m.name}_mean"
               for m in metrics.get(metrics.available())]
    assert {"beat_f1_mean", "beat_f1_grid_mean", "fd_logmel", "coherence_ours_mean", "onset_corr_mean",
            "chroma_corr_mean"} <= set(columns)
    unjudged = {f"{m.name}_mean" for m in metrics.get(metrics.available())
                if isinstance(m, metrics.ClipMetric) and "drums" not in m.stems}
    assert unjudged == {"in_tune_mean", "in_chord_mean", "pitched_mean"}  # drums have no notes to tune or to sound
    for row in summary["rows"]:  # every registered metric, every row: a score where it judges the stem
        for name in columns:
            assert row[name] is None if name in unjudged else math.isfinite(row[name]), (row["source"], name)
        if row["source"] in ("edm", "cd"):
            assert row["r"] == 0.5 and row["w"] == -1 and row["lookahead_s"] == -3.0 and row["generation_rtf"] > 0
    truth, random, silence, shifted, coded = (rows[(s, "all")] for s in REFERENCES)
    assert truth["beat_f1_mean"] > random["beat_f1_mean"] + 0.2
    assert truth["beat_f1_grid_mean"] > random["beat_f1_grid_mean"] + 0.2
    assert truth["beat_f1_mean"] > shifted["beat_f1_mean"] and silence["beat_f1_mean"] == 0
    assert truth["beat_f1_norm"] == pytest.approx(1) and random["beat_f1_norm"] == pytest.approx(0)
    assert truth["fd_logmel"] < 1e-3 < random["fd_logmel"] < silence["fd_logmel"]
    assert truth["coherence_ours_mean"] > random["coherence_ours_mean"] > silence["coherence_ours_mean"]
    # the codec's ceiling keeps the rhythm, whatever the codec in the tree does to the sound
    assert math.isfinite(coded["beat_f1_mean"]) and coded["beat_f1_norm"] > 0
    assert coded["onset_corr_mean"] > random["onset_corr_mean"]
    for name in ("onset_corr", "chroma_corr"):
        assert truth[f"{name}_mean"] == pytest.approx(1) and silence[f"{name}_mean"] == 0
    # the level against the real part, measured before the normalisation every metric sees
    assert truth["level_db_mean"] == pytest.approx(0, abs=1e-9) and truth["level_db_n"] == 2
    assert silence["level_db_mean"] is None and silence["level_db_n"] == 0  # no loudness to compare
    assert abs(coded["level_db_mean"]) < 1.5 and abs(shifted["level_db_mean"]) < 0.5
    assert all(math.isfinite(rows[(model, "all")]["level_db_mean"]) for model in ("edm", "cd"))
    assert "level_db_mean" in run.third_out.splitlines()[0].split("\t")
    clips = json.loads((out / "results.json").read_text())
    assert len(clips) == 14 and len((out / "results.csv").read_text().splitlines()) == 1 + 14
    assert all(c["song_seconds"] == pytest.approx(c["seconds"] + 3.0, abs=1e-4) for c in clips)  # --skip 3 s
    for name in metrics.available():
        assert (out / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def paper_weights(tmp_path_factory) -> dict[str, Path]:
    """Random-weight files in the formats of the paper metrics' checkpoints (small Beat This)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("beat_this", reason="beat-this==1.1.0 (make install, --no-deps)")
    from beat_this.model.beat_tracker import BeatThis

    from jaxaccomp.eval.paper import cocola, vggish

    root = tmp_path_factory.mktemp("paper")
    torch.manual_seed(0)
    small = dict(transformer_dim=32, ff_mult=1, n_layers=1, head_dim=8, stem_dim=8)
    files = {"vggish": root / "vggish.pth", "cocola": root / "cocola.ckpt", "beat_this": root / "final0.ckpt"}
    torch.save(vggish.VGGish().state_dict(), files["vggish"])
    coherence = cocola.Cocola()
    torch.nn.init.normal_(coherence.similarity.w, 0.0, 0.05)  # COCOLA's initialisation (ours starts at 0)
    torch.save({"state_dict": coherence.state_dict(), "epoch": 87}, files["cocola"])
    torch.save({"state_dict": {f"model.{k}": v for k, v in BeatThis(**small).state_dict().items()},
                "hyper_parameters": small}, files["beat_this"])
    return files


def test_paper_metrics_join_a_finished_sweep(finished_sweep, paper_weights, capsys):
    sweep = finished_sweep.root
    flags = [arg for name, path in paper_weights.items() for arg in (f"--{name.replace('_', '-')}", str(path))]
    stamps = [p.stat().st_mtime_ns for p in sorted((sweep / "out").glob("clips/*/*/*-drums.flac"))]
    assert run_sweep(sweep, *flags) == 0
    assert "14 clips evaluated, 0 already done" in capsys.readouterr().err  # scored from the kept audio
    assert [p.stat().st_mtime_ns for p in sorted((sweep / "out").glob("clips/*/*/*-drums.flac"))] == stamps
    summary = json.loads((sweep / "out" / "summary.json").read_text())
    rows = {(row["source"], row["stem"]): row for row in summary["rows"]}
    names = ["cocola_mean", "cocola_harmonic_mean", "cocola_percussive_mean", "fad_vggish", "beat_f1_beat_this_mean"]
    for row in rows.values():
        for name in names:
            assert math.isfinite(row[name]), (row["source"], name)
    assert len({rows[(source, "all")]["cocola_mean"] for source in ("ground_truth", "silence", "edm")}) == 3
    # random weights: a small scale, but the same sets still give ~0 and silence does not
    assert rows[("ground_truth", "all")]["fad_vggish"] < 1e-3 * rows[("silence", "all")]["fad_vggish"]
    assert rows[("ground_truth", "all")]["beat_f1_beat_this_norm"] == pytest.approx(1)
    settings = json.loads((sweep / "out" / "settings.json").read_text())
    assert settings["weights"] == {name: str(path.resolve()) for name, path in paper_weights.items()}
    other = paper_weights["vggish"].with_name("other.pth")
    other.write_bytes(paper_weights["vggish"].read_bytes())
    with pytest.raises(ValueError, match=r"holds results made with other settings \(weights of vggish\)"):
        run_sweep(sweep, "--vggish", str(other))


def test_a_finished_sweep_gives_each_stem_its_makeup_gain(finished_sweep, tmp_path, capsys):
    """`eval.makeup_gain` reads a real results folder: the tiny student's drums' median level, negated
    (it recommends no gain yet)."""
    from jaxaccomp.eval import makeup_gain

    out = finished_sweep.root / "out"
    assert makeup_gain.main([str(out), "--source", "cd", "--json", str(tmp_path / "gain.json")]) == 0
    levels = [c["level_db"] for c in json.loads((out / "results.json").read_text())
              if c["source"] == "cd" and c["level_db"] is not None]
    drums = json.loads((tmp_path / "gain.json").read_text())["stems"]["drums"]
    assert drums["clips"] == len(levels) > 0 and drums["gain_now_db"] == 0
    assert drums["gain_db"] == pytest.approx(-np.median(levels), abs=0.05)
    assert "r0.5_w-1" in capsys.readouterr().out


def test_a_results_folder_keeps_its_settings(finished_sweep):
    sweep = finished_sweep.root
    with pytest.raises(ValueError, match=r"holds results made with other settings \(seed\)"):
        run_sweep(sweep, "--seed", "1")
    with pytest.raises(ValueError, match=r"holds results made with other settings \(stop_gate\)"):
        run_sweep(sweep, "--stop-gate", "off")
    with pytest.raises(ValueError, match=r"--skip 1 s is before the first sample r=0.5 w=0 writes \(3 s\)"):
        run_sweep(sweep, "--w", "0", "--skip", "1")


def test_a_folder_from_before_the_stop_gate_reads_as_ungated(tmp_path):
    from jaxaccomp.eval.cli import _check_settings

    old = {"data": "d", "window": 264600, "fade": 0.02, "skip_s": 3.0, "seed": 0, "models": {}, "weights": {}}
    (tmp_path / "settings.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"other settings \(stop_gate\)"):
        _check_settings(tmp_path, {**old, "stop_gate": "on"})
    _check_settings(tmp_path, {**old, "stop_gate": "off"})
    assert json.loads((tmp_path / "settings.json").read_text())["stop_gate"] == "off"


def test_a_folder_from_before_the_tuning_reads_as_untuned(tmp_path):
    from jaxaccomp.eval.cli import _check_settings

    model = {"checkpoint": "m", "mode": "consistency", "codec": "embedded-2", "steps": 2}
    old = {"data": "d", "window": 264600, "fade": 0.02, "skip_s": 3.0, "seed": 0, "stop_gate": "on",
           "models": {"cd": model}, "weights": {}}
    (tmp_path / "settings.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"other settings \(model cd\)"):
        _check_settings(tmp_path, {**old, "models": {"cd": {**model, "tuning": "band"}}})
    _check_settings(tmp_path, {**old, "models": {"cd": {**model, "tuning": "off"}}})
    assert json.loads((tmp_path / "settings.json").read_text())["models"]["cd"]["tuning"] == "off"


@pytest.mark.parametrize("flag", ["--cocola", "--vggish", "--beat-this"])
def test_paper_weights_are_checked_before_any_clip(tmp_path, flag):
    missing = subprocess.run([sys.executable, "-m", "jaxaccomp.eval", flag, str(tmp_path / "w.ckpt")],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert missing.stderr.startswith(f"error: {flag} {tmp_path / 'w.ckpt'}: no such file")
    (tmp_path / "w.ckpt").write_bytes(b"weights")
    with pytest.raises(ValueError, match=f"{flag} .*w.ckpt: not a readable torch checkpoint"):
        cli.main([flag, str(tmp_path / "w.ckpt"), "--data", str(tmp_path / "none")])


def test_a_paper_metric_needs_its_weights():
    with pytest.raises(ValueError, match="^metric cocola_harmonic needs --cocola PATH, the COCOLA_HP_v1 checkpoint"):
        cli.main(["--metrics", "beat_f1", "cocola_harmonic"])
    assert "fad_vggish" not in metrics.available() and "fad_vggish" in [m.name for m in metrics.get(["fad_vggish"])]


# ----------------------------------------------------------------------------------------------
# The parts


def clicks(seconds: float, bpm: float, offset: float = 0.0) -> np.ndarray:
    """Decaying noise bursts on every beat."""
    audio = np.zeros(int(seconds * SR), np.float32)
    burst = np.random.default_rng(0).standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    for t in np.arange(offset, seconds - 0.1, 60 / bpm):
        audio[int(t * SR):int(t * SR) + 2000] += 0.5 * burst.astype(np.float32)
    return audio


def test_remembered_audio_results():
    from jaxaccomp.eval.memo import remember_audio

    calls = []

    @remember_audio(2)
    def energy(audio: np.ndarray, scale: int) -> float:
        calls.append(scale)
        return float(np.sum(audio ** 2) * scale)

    a, b, c = np.ones(4, np.float32), np.zeros(4, np.float32), np.ones(5, np.float32)
    assert energy(a, 1) == 4 and energy(a.copy(), 1) == 4 and calls == [1]  # same bytes: remembered
    assert energy(a, 2) == 8 and energy(b, 1) == 0 and calls == [1, 2, 1]  # other arguments or audio: computed
    assert energy(a.astype(np.float64), 2) == 8 and len(calls) == 4  # another dtype is another signal
    energy(c, 1)
    assert energy(a, 1) == 4 and len(calls) == 6  # (a, 1) was the least recently used of three: forgotten


def test_beat_tracking_and_f1():
    beat_times = beats.track(clicks(8, 120), SR)
    assert np.median(np.diff(beat_times)) == pytest.approx(0.5, abs=0.02)
    assert beats.f1_against_context(clicks(8, 120), clicks(8, 120), SR) == 1.0
    assert beats.f1_against_context(clicks(8, 120), clicks(8, 120, offset=0.25), SR) < 0.2  # off-beat
    assert beats.f1_against_grid(np.arange(0, 8, 0.5), clicks(8, 120), SR) > 0.9
    assert beats.track(np.zeros(8 * SR, np.float32), SR).size == 0  # silence has no beats
    reference = np.arange(0, 10, 0.5)
    estimate = reference + np.where(np.arange(20) % 3 == 0, 0.1, 0.03)  # a third outside +-70 ms
    assert beats.f_measure(estimate, reference) == pytest.approx(2 * 13 / (20 + 20))
    with pytest.raises(ValueError, match="beat tracking needs 44100 Hz audio, got 16000 Hz"):
        beats.track(np.zeros(16000, np.float32), 16000)


def test_midi_beats_follow_the_tempo_map(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0),
                            mido.MetaMessage("set_tempo", tempo=1000000, time=960)])  # 120 bpm, then 60 after 2 beats
    notes = mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                            mido.Message("note_off", note=60, velocity=0, time=480 * 5)])  # music ends at beat 5
    midi.tracks += [tempo, notes]
    midi.save(tmp_path / "all_src.mid")
    np.testing.assert_allclose(beats.midi_beats(tmp_path / "all_src.mid", 100.0), [0, 0.5, 1, 2, 3])
    np.testing.assert_allclose(beats.true_beats(tmp_path, 2.5), [0, 0.5, 1, 2])
    (tmp_path / "render.json").write_text(json.dumps({"beat_times": [0.1, 0.6, 1.1]}))
    np.testing.assert_allclose(beats.true_beats(tmp_path, 1.0), [0.1, 0.6])  # the renderer's record wins
    assert beats.true_beats(tmp_path / "nothing", 1.0) is None


def test_loudness_normalisation_and_listening_mix():
    rng = np.random.default_rng(0)
    quiet = (0.01 * rng.standard_normal(3 * SR)).astype(np.float32)
    out = loudness.normalize(quiet, SR)
    assert loudness.loudness(out, SR) == pytest.approx(-18, abs=0.05)
    spiky = quiet.copy()
    spiky[SR] = 0.5  # a peak that -18 LUFS would push past 0.99
    assert np.max(np.abs(loudness.normalize(spiky, SR))) == pytest.approx(0.99)
    assert not np.any(loudness.normalize(np.zeros(SR, np.float32), SR))  # silence stays silent
    context, stem = out, (0.2 * rng.standard_normal(3 * SR)).astype(np.float32)
    mix = loudness.mix_with_stem(context, stem, SR, context_stems=3)
    assert loudness.loudness(mix, SR) == pytest.approx(-18, abs=0.05)
    # the stem went in at -18 - 10 log10(3) + 5 LUFS: its share of the mix's power follows
    stem_part = mix - context * (np.dot(mix, context) / np.dot(context, context))
    assert 10 * np.log10(np.mean(stem_part ** 2) / np.mean((mix - stem_part) ** 2)) == pytest.approx(
        5 - 10 * np.log10(3), abs=0.5)
    with pytest.raises(ValueError, match="at least 0.4 s"):
        loudness.loudness(np.zeros(100, np.float32), SR)


def test_frechet_distance_and_logmel_embedding():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4000, 3)), rng.standard_normal((4000, 3)) * 2 + [1, 0, 0]
    # Gaussians N(0, I) and N((1,0,0), 4I): |mu|^2 + 3 (1 + 4 - 2 * 2) = 4
    assert frechet.frechet_distance(a, b) == pytest.approx(4, rel=0.05)
    assert frechet.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        frechet.frechet_distance(a[:1], b)
    bank = frechet.mel_filterbank()
    assert bank.shape == (257, 64) and np.all(bank.max(axis=0) > 0.5)
    vectors = frechet.logmel_vectors(clicks(5, 120), SR)
    assert vectors.shape == (5, 64)  # 5 s at 16 kHz: 498 frames, 5 patches of 96
    low, high = (frechet.logmel_vectors(np.sin(2 * np.pi * f * np.arange(2 * SR) / SR), SR) for f in (200, 4000))
    assert np.argmax(low[0]) < np.argmax(high[0])
    with pytest.raises(ValueError, match="at least 0.96 s"):
        frechet.logmel_vectors(np.zeros(SR // 2), SR)


def test_grid_partners_and_reference_signals():
    valid, skipped = grid([0.125, 0.25, 0.5, 1.0], [-1, 0, 1], 264600, 0.02)
    assert [(g.r, g.w) for g in valid] == [(0.125, -1), (0.125, 0), (0.125, 1), (0.25, -1), (0.25, 0), (0.25, 1),
                                           (0.5, -1), (0.5, 0)]
    assert {(g.r, g.w) for g, _ in skipped} == {(0.5, 1), (1.0, -1), (1.0, 0), (1.0, 1)}
    assert Regime(0.25, 1).settings(264600, 0.02).lookahead_seconds == 1.5
    assert Regime(0.5, 0).settings(264600, 0.02).first_written == 132300
    tracks = [f"T{i}" for i in range(5)]
    partners = random_partners(tracks, ["bass", "drums"], seed=0)
    assert all(len(partners[(t, s)]) == 1 and t not in partners[(t, s)] for t in tracks for s in ("bass", "drums"))
    assert sorted(partners[(t, "bass")][0] for t in tracks) == tracks  # each stem used once
    assert partners == random_partners(tracks, ["bass", "drums"], seed=0)
    every = random_partners(tracks, ["bass"], seed=0, draw="all")
    assert every[("T2", "bass")] == ("T0", "T1", "T3", "T4")
    with pytest.raises(ValueError, match="at least 2 tracks"):
        random_partners(["T0"], ["bass"], 0)
    with pytest.raises(ValueError, match="one or all"):
        random_partners(tracks, ["bass"], 0, draw="some")
    np.testing.assert_array_equal(delay(np.arange(5.0), 2), [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(fit_length(np.arange(3.0), 7), [0, 1, 2, 0, 1, 2, 0])


def test_a_random_pairing_is_scored_again_when_its_partners_change(tmp_path):
    """A run extended with more songs, or drawing every partner, pairs other stems: old scores are not reused
    (records written before partner sets name one "partner")."""
    from jaxaccomp.eval import runner
    from jaxaccomp.eval.clips import Clip

    job = runner.Job(data="d", split="test", out=str(tmp_path), models=(), metrics=("beat_f1", "onset_corr"),
                     window=264600, fade=0.02, skip=0, seed=0)
    clip = Clip("random_pairing", None, "T0", "bass")
    record = clip.path(tmp_path, ".json")
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"partner": "T1", "metrics": {"beat_f1": 0.5, "onset_corr": 0.1}}))
    assert runner.pending(runner.Task(job, clip, ("T1",))) == ()
    assert runner.pending(runner.Task(job, clip, ("T2",))) == ("beat_f1", "onset_corr")
    assert runner.pending(runner.Task(job, clip, ("T1", "T2"))) == ("beat_f1", "onset_corr")
    record.write_text(json.dumps({"partners": ["T1", "T2"], "metrics": {"beat_f1": 0.5, "onset_corr": 0.1}}))
    assert runner.pending(runner.Task(job, clip, ("T1", "T2"))) == ()
    assert runner.pending(runner.Task(job, clip, ("T1",))) == ("beat_f1", "onset_corr")
    truth = Clip("ground_truth", None, "T0", "bass")  # no partner: its record is kept
    truth.path(tmp_path, ".json").parent.mkdir(parents=True)
    truth.path(tmp_path, ".json").write_text(json.dumps({"partner": None, "metrics": {"beat_f1": 1.0}}))
    assert runner.pending(runner.Task(job, truth)) == ("onset_corr",)


def test_a_random_pairing_of_several_partners_scores_their_mean(tmp_path):
    """--random-partners all: each partner's stem is scored as one would be, the clip's value is their mean,
    and a set metric keeps every partner's vectors."""
    from jaxaccomp.eval import runner

    rng = np.random.default_rng(0)
    truth, context = (rng.standard_normal(3 * SR).astype(np.float32) * 0.1 for _ in range(2))
    song = runner.Song(context, context, truth, truth, None)
    partners = [rng.standard_normal(3 * SR).astype(np.float32) * 0.1 for _ in range(3)]
    onset, logmel = metrics.get(("onset_corr", "fd_logmel"))
    alone = [runner._score(onset, song, [stem], tmp_path / "x.npy") for stem in partners]
    assert runner._score(onset, song, partners, tmp_path / "x.npy") == pytest.approx(np.mean(alone))
    assert len(set(alone)) == 3  # the partners differ, so the mean is not any one of them
    assert runner._score(logmel, song, partners, tmp_path / "v.npy") is None
    one = logmel.embed(partners[0], SR)
    assert np.load(tmp_path / "v.npy").shape == (3 * one.shape[0], one.shape[1])


def test_normalised_score():
    names = ("beat_f1",)
    summary = [{"source": s, "regime": "reference" if s != "m" else "r0.25_w+1", "stem": "all",
                "beat_f1_mean": v} for s, v in (("ground_truth", 0.8), ("random_pairing", 0.2), ("m", 0.5))]
    report.normalise(summary, metrics.get(names))
    assert [row["beat_f1_norm"] for row in summary] == pytest.approx([1, 0, 0.5])
    with pytest.raises(ValueError, match="unknown metric 'fad'"):
        metrics.get(["fad"])


def test_quick_sets_the_tuning_defaults_and_explicit_flags_win():
    args = cli.parse_args(["--quick"])
    assert (args.render_songs, args.render_seconds, args.songs, args.workers) == (6, 30.0, 6, 2)
    assert (args.r, args.w, args.stems) == ([0.25], [1], list(STEMS))
    assert args.metrics == ["beat_f1", "coherence_ours", "onset_corr", "chroma_corr", "in_tune", "in_chord", "pitched"]
    assert args.references == ["ground_truth", "random_pairing", "codec_round_trip"]
    assert args.data == Path("eval-quick/data") and args.out == Path("eval-quick/results")
    regimes, _ = cli._regimes(args)
    assert [(g.r, g.w) for g in regimes] == [(0.25, 1)]  # the look-ahead regime, written from 3 s: --skip holds
    mine = cli.parse_args(["--workers", "1", "--quick", "--stems", "bass", "--references", "silence", "--r", "1/8"])
    assert (mine.workers, mine.stems, mine.references, mine.r, mine.w) == (1, ["bass"], ["silence"], [0.125], [1])
    assert cli.parse_args([]).references == list(REFERENCES) and cli.parse_args([]).render_songs is None
    assert "--quick" in cli.build_parser().format_help()


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> tuple[np.ndarray, np.ndarray, float]:
    """(bass, another song's bass, beat period in s) of rendered 20-s test songs."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset
    from jaxaccomp.data.slakh import load_split

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    root = tmp_path_factory.mktemp("song")
    folders = render_dataset(root, 2, "test", seed=0, workers=1, seconds=20)
    first, other = (track.stems[STEMS.index("bass")] for track in load_split(root, "test").tracks)
    tempo = json.loads((folders[0] / "render.json").read_text())["tempo"]
    return first, fit_length(other, first.shape[0]), 60 / tempo


def test_follow_figures_of_a_rendered_bass(song):
    bass, other, beat = song
    half_beat = delay(bass, round(beat / 2 * SR))
    silence = np.zeros_like(bass)
    for name, figure in follow.FIGURES.items():  # a half-beat delay keeps most chroma: a chord lasts a bar
        assert figure(bass, 0.3 * bass, SR) == pytest.approx(1), name  # level-independent
        assert figure(bass, half_beat, SR) < {"onset_corr": 0.7, "chroma_corr": 0.9}[name], name
        assert abs(figure(bass, other, SR)) < 0.5, name
        assert figure(bass, silence, SR) == 0 and figure(silence, silence, SR) == 0, name
    figures = follow.follow(bass, bass, SR, beat)
    assert figures["onset_corr"] == pytest.approx(1) and figures["onset_corr_control"] < 0.3
    assert figures["chroma_corr"] == pytest.approx(1) and figures["chroma_corr_control"] < 0.8
    with pytest.raises(ValueError, match="two mono signals of one length"):
        follow.onset_correlation(bass, bass[:-1], SR)
    assert follow.level_difference_db(bass, 2 * bass) == pytest.approx(20 * np.log10(2))
    assert follow.full_scale_share(bass) == 0
    too_loud = 4 * bass / np.abs(bass).max()  # peaks four times full scale
    assert 0 < follow.full_scale_share(np.clip(too_loud, -1, 1)) == pytest.approx(np.mean(np.abs(too_loud) >= 0.999))


def test_codec_round_trip_keeps_the_timeline(song):
    from jaxaccomp.codec import get_codec

    bass = song[0]
    coded = round_trip(get_codec("embedded"), bass)  # the codec every program uses
    assert coded.shape == bass.shape and not np.any(coded[4096 * ((bass.shape[0] - 1536) // 4096) + 1536:])
    # the codec's sample 0 is the input's: its onsets line up with the input's, not a few hops later or earlier
    aligned = follow.onset_correlation(bass, coded, SR)
    assert aligned > 0.5 and all(aligned > follow.onset_correlation(bass, shifted, SR)
                                 for shifted in (delay(coded, 1024), np.roll(coded, -1024)))
