"""`make demo`: a rendered song streamed live over loopback through serve.py and the reference client."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jaxaccomp.streaming.models import DEMO_MODELS, MODELS_DIR


def test_demo_streams_a_rendered_song_through_serve_py(tmp_path, capsys):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp import demo
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    assert (MODELS_DIR / DEMO_MODELS["consistency"] / "meta.json").is_file()  # shipped in the repository, never skipped
    assert demo.main(["--out", str(tmp_path), "--seconds", "6"]) == 0
    audio = {name: sf.read(str(tmp_path / f"{name}.wav"))[0]
             for name in ("context", "bass_original", "accompaniment", "mix")}
    assert len({a.shape for a in audio.values()}) == 1 and all(np.all(np.isfinite(a)) for a in audio.values())
    np.testing.assert_allclose(audio["mix"], audio["context"] + audio["accompaniment"], atol=1e-6)
    assert np.sqrt(np.mean(audio["accompaniment"] ** 2)) > 1e-3  # the model produced sound, not silence
    report = json.loads((tmp_path / "latency.json").read_text())
    from jaxaccomp.provenance import checkpoint_hash
    from jaxaccomp.streaming.models import default_checkpoint, sampling_steps

    model = default_checkpoint(None)  # the server names its model, so latency.json records it
    assert model.name == "frames_cd"  # the demo streams the consistency student, sampled as it recommends
    steps = sampling_steps(json.loads((model / "meta.json").read_text()), None)
    assert report["server"]["name"] == f"jaxaccomp (consistency, {steps} steps, guidance 3, periodic continuation, in tune with the band, on its chords, float32, model {model.name} {checkpoint_hash(model)})"
    assert report["settings"]["position"]
    assert report["client"]["batches"] >= 3 and report["client"]["stale_chunks"] == 0
    assert report["server_stats"]["batches"] == report["client"]["batches"]
    assert report["produced_by"]["jaxaccomp"] and report["produced_by"]["jax"]  # what made this session
    out = capsys.readouterr().out
    assert "0 compilations while serving" in out and "server exit status 0" in out
    # how closely the accompaniment follows the composer's bass: computed, not judged (the models are retrained)
    follow = json.loads((tmp_path / "follow.json").read_text())
    assert follow["from_s"] == 3.0  # r 1/4, w 1: the first reply is written from 2 steps of 1.5 s on
    for name in ("onset_corr", "chroma_corr"):
        assert math.isfinite(follow[name]) and math.isfinite(follow[f"{name}_control"])
    assert math.isfinite(follow["level_difference_db"]) and 0 <= follow["full_scale_share"] <= 1
    assert follow["in_tune_true_stem"] > 0.8  # the composer's bass is in tune with the band
    if follow["in_tune"] is not None:  # a 6-s song may leave the generated part too little pitched sound to judge
        assert 0 <= follow["in_tune"] <= 1 and "% of its pitched time in tune with the band (the true stem" in out
    assert follow["in_chord_true_stem"] > 0.5  # the composer's bass plays the band's chord
    if follow["in_chord"] is not None:
        assert 0 <= follow["in_chord"] <= 1 and "% on the band's chord (the true stem" in out
    assert "follows the song from 3.0 s: onset correlation" in out
