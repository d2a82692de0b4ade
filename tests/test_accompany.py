"""Offline accompaniment: the CLI end to end with a tiny model, input layouts, assembly, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate

from jaxaccomp import accompany as acc
from jaxaccomp.constants import STEMS
from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming import models
from jaxaccomp.tracks import check_output, crossfade_into, read_context, resample
from tests.support.predictors import FakePredictor

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
STEP = 66150  # int(264600 * 0.25)
FADE = 882


def song(seconds: float, rate: int) -> np.ndarray:
    """[L, 4] stems (bass, drums, guitar, piano): a bass line, clicks on the beat, two held notes."""
    t = np.arange(int(seconds * rate)) / rate
    beat = (t * 2) % 1
    drums = np.random.default_rng(0).standard_normal(t.shape) * np.exp(-beat * 40)
    stems = [np.sin(2 * np.pi * 55 * (1 + (t // 2) % 2) * t), drums, np.sin(2 * np.pi * 330 * t),
             np.sin(2 * np.pi * 523 * t)]
    return (0.2 * np.stack(stems, axis=1)).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_net):
    """A tiny random-weight diffusion checkpoint on the embedded codec, and input files."""
    from jaxaccomp.nn.precond import Denoiser
    from jaxaccomp.nn.checkpoint import save_denoiser

    root = tmp_path_factory.mktemp("accompany")
    save_denoiser(root / "model", Denoiser(tiny_net), codec=EmbeddedCodec.name)
    sf.write(root / "mix22k.wav", song(8, 22050).sum(axis=1), 22050)
    sf.write(root / "stems.wav", song(8, SR), SR)
    sf.write(root / "three.wav", song(1, SR)[:, :3], SR)
    sf.write(root / "empty.wav", np.zeros((0, 1), np.float32), SR)
    return root


def cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jaxaccomp.accompany", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT)


def test_cli_accompanies_a_resampled_mixture(files):
    out, mix = files / "out.wav", files / "mix.wav"
    run = cli(files / "mix22k.wav", "--stem", "bass", "--stem", "piano", "--out", out, "--mix", mix,
              "--checkpoint", files / "model", "--steps", "2", "--model-rate")
    assert run.returncode == 0, run.stderr
    audio, rate = sf.read(out, dtype="float32")
    assert rate == SR and audio.shape == (8 * SR, 2) and np.all(np.isfinite(audio))
    # w = 1: nothing is written before the first step's lead-in at 2 step - fade, then every sample is.
    assert not np.any(audio[:2 * STEP - FADE]) and np.all(np.abs(audio[2 * STEP:]).max(axis=0) > 0)
    context = resample(sf.read(files / "mix22k.wav", dtype="float32")[0], 22050)
    expected = context + audio.sum(axis=1)
    expected *= min(1.0, acc.MIX_PEAK / np.abs(expected).max())  # a mix that would clip is scaled down as a whole
    np.testing.assert_allclose(sf.read(mix, dtype="float32")[0], expected, atol=1e-6)


def test_cli_takes_one_channel_per_stem(files):
    out = files / "drums.flac"  # the extension picks the format
    run = cli(files / "stems.wav", "--stem", "drums", "--w", "0", "--out", out, "--checkpoint", files / "model",
              "--steps", "2")
    assert run.returncode == 0, run.stderr
    audio, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == SR and audio.shape == (8 * SR, 1) and np.all(np.isfinite(audio))


def test_context_layouts(files):
    stems = song(1, SR)
    sf.write(files / "stereo.wav", stems[:, :2], SR)
    mono, rate = read_context(files / "stereo.wav", ["bass"])
    assert rate == SR
    np.testing.assert_allclose(mono, stems[:, :2].mean(axis=1), atol=1e-4)  # 16-bit file
    context, _ = read_context(files / "stems.wav", ["drums", "piano"])
    written = sf.read(files / "stems.wav", dtype="float32")[0]
    np.testing.assert_allclose(context, written[:, 0] + written[:, 2], atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["{root}/missing.wav"], "error: no such audio file"),
    (["{root}/three.wav"], "error: {root}/three.wav has 3 channels"),
    (["{root}/empty.wav"], "error: {root}/empty.wav holds no audio (0 samples)"),
    (["{root}/stems.wav", "--r", "0.5"], r"error: (w+2)*r must be at most 1"),
    (["{root}/stems.wav", "--mode", "consistency"], "error: {root}/model holds a 'diffusion' model"),
    (["{root}/stems.wav", "--steps", "1"], "error: diffusion sampling needs at least 2 steps"),
    (["{root}/stems.wav", "--checkpoint", "{root}"], "error: {root} is not a jaxaccomp checkpoint"),
    (["{root}/stems.wav", "--device", "cuda"], "error: --device cuda: JAX found no GPU here"),
    (["{root}/stems.wav", "--codec-device", "cuda"], "error: codec device cuda: the embedded codec is numpy"),
])
def test_cli_errors_are_one_line(files, args, message):
    args = [a.format(root=files) for a in args]
    model = [] if "--checkpoint" in args else ["--checkpoint", files / "model"]
    run = cli(*args, *model, "--stem", "bass", "--out", files / "never.wav")
    assert run.returncode == 1
    assert run.stderr.startswith(message.format(root=files)) and run.stderr.count("\n") == 1, run.stderr
    assert not (files / "never.wav").exists()


def test_missing_demo_model_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="demo model .*frames_cd is not there"):
        models.load_model(None, "consistency", None, None)


def test_crossfade_is_the_max_externals():
    track = np.ones(10, np.float32)
    crossfade_into(track, 2, np.full(6, 2.0, np.float32), fade=4)
    np.testing.assert_allclose(track, [1, 1, 1, 1.25, 1.5, 1.75, 2, 2, 1, 1])
    crossfade_into(track, -3, np.full(6, 3.0, np.float32), fade=4)  # samples before 0 are dropped
    np.testing.assert_allclose(track[:4], [3 * 0.75 + 1 * 0.25, 3, 3, 1.25])
    crossfade_into(track, 8, np.full(6, 4.0, np.float32), fade=0)  # and after the end
    np.testing.assert_allclose(track[8:], [4, 4])


def test_a_reply_in_chunks_crossfades_as_one():
    whole, chunked = np.ones(12, np.float32), np.ones(12, np.float32)
    reply = np.arange(8, dtype=np.float32)
    crossfade_into(whole, 3, reply, fade=5)
    for start in range(0, 8, 3):  # chunks of 3 samples, each placed against the reply's origin
        crossfade_into(chunked, 3 + start, reply[start:start + 3], fade=5, origin=3)
    np.testing.assert_array_equal(chunked, whole)


class Echo(FakePredictor):
    """A Predictor that 'accompanies' with the context itself: the output must land on the input."""

    def __call__(self, plan, source, context, labels, key):
        return np.broadcast_to(context, source.shape).copy()


def test_assembled_output_lands_on_the_input():
    """Retrospective steps (w = -1) see the whole write window, so echoing the context decodes the
    input itself; its energy must line up with the input's to within the codec's 512-sample blocks."""
    clicks = np.zeros(6 * SR, np.float32)
    rng = np.random.default_rng(1)
    for at in np.cumsum(rng.integers(3000, 9000, 60)):
        if at + 200 < clicks.shape[0]:
            clicks[at:at + 200] = rng.standard_normal(200) * np.exp(-np.arange(200) / 40)
    out = acc.accompany(clicks, SR, EmbeddedCodec(), Echo(), ["guitar"], settings=StreamSettings(w=-1))[0]
    assert out.shape == clicks.shape

    def energy(x: np.ndarray) -> np.ndarray:
        return np.convolve(np.square(x, dtype=np.float64), np.ones(256) / 256, mode="same")

    inside = slice(STEP, clicks.shape[0] - 2048)  # written by some step, away from the ends
    ref, got = energy(clicks), energy(out)[inside]
    corr = correlate(ref[inside.start - 2048:inside.stop + 2048], got, mode="valid", method="fft")
    assert abs(2048 - int(np.argmax(corr))) < 512


def test_outputs_are_checked_before_any_work_and_nothing_is_overwritten(files):
    existing = files / "existing.wav"
    sf.write(existing, np.zeros(10, np.float32), SR)
    before = existing.read_bytes()
    model = ["--checkpoint", files / "model", "--stem", "bass"]
    for args, message in [
        (["--out", existing], f"error: {existing} exists; pass --force to replace it"),
        (["--out", files / "stems.wav", "--force"], f"error: {files}/stems.wav is an input"),
        (["--out", files / "a.wav", "--mix", files / "a.wav"], f"error: {files}/a.wav is an input"),
        (["--out", files / "noextension"], "error: " + str(files / "noextension") + ": name the output"),
        (["--out", files / "x.xyz"], "error: " + str(files / "x.xyz") + ": name the output"),
        (["--out", files / "no" / "x.wav"], "error: the folder of"),
    ]:
        run = cli(files / "stems.wav", *model, *args)
        assert run.returncode == 1 and run.stderr.startswith(message) and run.stderr.count("\n") == 1, run.stderr
        assert "compiling" not in run.stderr  # refused before loading anything
    assert existing.read_bytes() == before and not (files / "a.wav").exists()
    assert read_context(files / "stems.wav", ["bass"])[0].shape == (8 * SR,)  # the input is intact


def test_output_formats_follow_the_extension(tmp_path):
    assert check_output(tmp_path / "a.wav") == ("WAV", "FLOAT")
    assert check_output(tmp_path / "a.flac") == ("FLAC", "PCM_16")  # FLAC holds no float samples
    assert check_output(tmp_path / "a.AIF") == ("AIFF", "FLOAT")
    (tmp_path / "a.wav").write_bytes(b"")
    assert check_output(tmp_path / "a.wav", force=True) == ("WAV", "FLOAT")


def test_bad_input_and_seed_are_refused_before_loading_anything(files):
    audio = song(2, SR)
    audio[int(1.25 * SR), 2] = np.nan
    sf.write(files / "nan.wav", audio, SR, subtype="FLOAT")
    run = cli(files / "nan.wav", "--stem", "bass", "--out", files / "never.wav", "--checkpoint", files / "model")
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"error: {files}/nan.wav: the sample at 1.250 s (frame 55125) is NaN or infinite")
    run = cli(files / "stems.wav", "--stem", "bass", "--out", files / "never.wav", "--seed", "-5")
    assert run.returncode == 2 and "a seed is 0 to 2^32 - 1, got -5" in run.stderr
    assert "compiling" not in run.stderr and not (files / "never.wav").exists()


def test_an_input_above_full_scale_is_named(files):
    loud = 8.0 * song(1, SR)[:, 0]  # peaks at 1.6
    sf.write(files / "loud.wav", loud, SR, subtype="FLOAT")
    run = cli(files / "loud.wav", "--stem", "bass", "--out", files / "loud_out.wav", "--checkpoint", files / "model",
              "--steps", "2")
    assert run.returncode == 0, run.stderr
    assert f"warning: {files}/loud.wav peaks at {np.abs(loud).max():.2f}, above full scale (1.0)" in run.stderr


def test_output_comes_back_at_the_input_rate(files):
    out, mix = files / "out22k.wav", files / "mix22k_out.wav"
    run = cli(files / "mix22k.wav", "--stem", "bass", "--out", out, "--mix", mix, "--checkpoint", files / "model",
              "--steps", "2")
    assert run.returncode == 0, run.stderr
    audio, rate = sf.read(out, dtype="float32")
    assert rate == 22050 and audio.shape == (8 * 22050,) and np.abs(audio[2 * STEP // 2:]).max() > 0
    assert "the first 3.00 s are silent (the first step's reply starts there)" in run.stderr  # w = 1: 2 steps
    mixed, mix_rate = sf.read(mix, dtype="float32")
    context = sf.read(files / "mix22k.wav", dtype="float32")[0]
    assert mix_rate == 22050 and np.abs(mixed).max() <= 0.99 + 1e-6  # never clips
    expected = context + audio
    if np.abs(expected).max() > 0.99:  # scaled down as a whole, and said so
        expected *= 0.99 / np.abs(expected).max()
        assert "so that it does not clip" in run.stderr
    np.testing.assert_allclose(mixed, expected, atol=1e-6)


def test_outputs_record_what_produced_them(files):
    out = files / "recorded.wav"
    run = cli(files / "stems.wav", "--stem", "guitar", "--out", out, "--checkpoint", files / "model", "--steps", "2",
              "--seed", "7", "--r", "0.125")
    assert run.returncode == 0, run.stderr
    with sf.SoundFile(out) as recorded:
        note = json.loads(recorded.comment)
        assert recorded.software.startswith("jaxaccomp ")
    assert note["stream"] == {"window": 264600, "r": 0.125, "w": 1, "fade": 0.02}
    assert (note["stems"], note["seed"], note["steps"], note["mode"]) == (["guitar"], 7, 2, "diffusion")
    assert note["dtype"] == "float32" and note["guidance"] == 0.0  # this model recommends none
    assert note["continues_context"] is False  # nor a continuation
    assert note["makeup_gain_db"] == {} and note["withhold_target_max_step_s"] == 0.0  # nor a level or withholding
    assert note["voicing_stretch"] == {}  # nor a voicing
    assert note["checkpoint"] == str(files / "model") and note["input"] == str(files / "stems.wav")
    assert note["jax"] and "--seed 7" in note["command"]
    from jaxaccomp.provenance import checkpoint_hash

    assert note["checkpoint_sha256"] == checkpoint_hash(files / "model") and len(note["checkpoint_sha256"]) == 16


def test_the_checkpoint_recommends_its_steps_and_a_flag_overrides_them(tmp_path):
    import shutil

    from jaxaccomp.eval import cli as eval_cli
    from jaxaccomp.streaming.generator import DEFAULT_STEPS

    shipped_folder = models.default_checkpoint("consistency")
    recommended = json.loads((shipped_folder / "meta.json").read_text())["sampling"]["steps"]
    assert recommended != DEFAULT_STEPS["consistency"]  # the shipped student samples in more steps than the reference
    assert models.load_model(None, "consistency", None, None)[1].steps == recommended
    assert models.load_model(None, "consistency", None, 2)[1].steps == 2
    (spec,) = eval_cli._models(eval_cli.parse_args(["--checkpoint", str(shipped_folder)]))
    assert spec.steps == recommended
    folder = tmp_path / "model"
    shutil.copytree(shipped_folder, folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "sampling": {}}))  # says nothing: the reference's
    assert models.load_model(folder, None, None, None)[1].steps == DEFAULT_STEPS["consistency"]
    (spec,) = eval_cli._models(eval_cli.parse_args(["--checkpoint", str(folder), "--consistency-steps", "3"]))
    assert spec.steps == 3
    with pytest.raises(ValueError, match="at least 1 step"):  # 0 is a number of steps, refused, not "unset"
        eval_cli._models(eval_cli.parse_args(["--checkpoint", str(folder), "--consistency-steps", "0"]))


def test_the_checkpoint_recommends_its_level_withholding_and_voicing_and_bad_values_are_refused(tmp_path):
    import shutil

    shipped_folder = models.default_checkpoint("consistency")
    sampling = json.loads((shipped_folder / "meta.json").read_text())["sampling"]
    generator = models.load_model(None, "consistency", None, None)[1]
    assert generator.makeup_gain_db == sampling["makeup_gain_db"] and set(generator.makeup_gain_db) == set(STEMS)
    assert generator.withhold_target_max_step_s == sampling["withhold_target_max_step_s"] > 0
    assert "bass +" in generator.sampler_name()
    assert generator.voicing_stretch == sampling["voicing_stretch"] and generator.voicing_stretch["guitar"] > 1
    assert "notes voiced decisively: guitar x" in generator.sampler_name()
    folder = tmp_path / "model"
    shutil.copytree(shipped_folder, folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "sampling": {}}))  # says nothing: as generated, as the reference
    generator = models.load_model(folder, None, None, None)[1]
    assert generator.makeup_gain_db == {} and generator.withhold_target_max_step_s == 0.0
    assert generator.voicing_stretch == {} and "voiced" not in generator.sampler_name()
    for sampling, refusal in (({"makeup_gain_db": {"flute": 3.0}}, "make-up gains are per stem .* got flute"),
                              ({"voicing_stretch": {"drums": 2.0}}, "voicing stretches are per pitched stem .* got drums"),
                              ({"voicing_stretch": {"guitar": 0.5}}, "voicing stretch of guitar must be .* at least 1")):
        (folder / "meta.json").write_text(json.dumps({**meta, "sampling": sampling}))
        with pytest.raises(ValueError, match=refusal):
            models.load_model(folder, None, None, None)
