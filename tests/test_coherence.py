"""Our COCOLA-style coherence model: features, loss, training, checkpoints and the shipped model."""

from __future__ import annotations

import numpy as np
import optax
import pytest

from jaxaccomp.eval.coherence import (
    DEFAULT_CHECKPOINT, FEATURE_RATE, HOP_LENGTH, N_MELS, WINDOW_FRAMES, ModelConfig, features, hpss, info_nce,
    init_params, load_coherence, retrieval_accuracy, save_checkpoint, windows)
from jaxaccomp.eval.coherence_train import SHIFT_FRAMES, Songs, make_steps, playing_starts, sample_batch

SR = 44100
TINY = ModelConfig(channels=(4, 8), embedding=16)


def tone(freq: float, seconds: float, sr: int = FEATURE_RATE) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def clicks(period: float, seconds: float, sr: int = FEATURE_RATE) -> np.ndarray:
    audio = np.zeros(int(seconds * sr), np.float32)
    audio[:: int(period * sr)] = 0.9
    return audio


# ----------------------------------------------------------------------------------------------
# Features


def test_features_shape_at_any_supported_rate():
    for sr in (FEATURE_RATE, SR):
        out = features(tone(440.0, 3.0, sr), sr)
        assert out.shape == (1 + 3 * FEATURE_RATE // HOP_LENGTH, N_MELS, 2) and out.dtype == np.float32


def test_hpss_parts_sum_to_the_input_and_separate_tones_from_clicks():
    power = np.random.default_rng(0).uniform(0, 1, (200, N_MELS)).astype(np.float32)
    harmonic, percussive = hpss(power)
    np.testing.assert_allclose(harmonic + percussive, power, rtol=1e-6)
    assert (harmonic >= 0).all() and (percussive >= 0).all()

    def harmonic_share(audio: np.ndarray) -> float:
        db = features(audio, FEATURE_RATE)
        h, p = 10 ** (db[..., 0] / 10), 10 ** (db[..., 1] / 10)
        return float(h.sum() / (h.sum() + p.sum()))

    assert harmonic_share(tone(440.0, 3.0)) > 0.9
    assert harmonic_share(clicks(0.25, 3.0)) < 0.1


def test_windows_cover_the_clip_with_a_padded_last_window():
    frames = np.zeros((WINDOW_FRAMES + 130, N_MELS, 2), np.float32)
    out = windows(frames)
    assert out.shape == (3, WINDOW_FRAMES, N_MELS, 2)  # starts 0, 125, 250
    assert (out[-1, frames.shape[0] - 250:] < -99).all()  # silence after the end
    assert windows(frames[:10]).shape == (1, WINDOW_FRAMES, N_MELS, 2)


def test_bad_input_is_a_one_line_error():
    for sr in (8000, 16000.0):
        with pytest.raises(ValueError, match="sample rate"):
            features(tone(440.0, 1.0), sr)
    with pytest.raises(ValueError, match="mono"):
        features(np.zeros((2, 16000), np.float32), FEATURE_RATE)


# ----------------------------------------------------------------------------------------------
# Loss


def reference_info_nce(scores: np.ndarray) -> float:
    """Plain numpy: mean over rows (all columns) and over the first B columns of -log softmax(diagonal)."""
    batch = scores.shape[0]
    rows = [np.log(np.exp(scores[i]).sum()) - scores[i, i] for i in range(batch)]
    cols = [np.log(np.exp(scores[:, j]).sum()) - scores[j, j] for j in range(batch)]
    return 0.5 * (np.mean(rows) + np.mean(cols))


@pytest.mark.parametrize("extra", [0, 5])
def test_info_nce_matches_a_numpy_reference(extra):
    scores = np.random.default_rng(extra).normal(0, 3, (5, 5 + extra)).astype(np.float32)
    assert float(info_nce(scores)) == pytest.approx(reference_info_nce(scores.astype(np.float64)), rel=1e-5)


def test_retrieval_accuracy_counts_rows_won_by_their_diagonal():
    scores = np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 1.0]])
    assert float(retrieval_accuracy(scores)) == pytest.approx(2 / 3)


# ----------------------------------------------------------------------------------------------
# Training data and steps


def test_batches_pair_each_context_with_its_stem_and_a_shifted_copy():
    """Features filled with their frame index show exactly which windows a batch took."""
    frames, rng = 400, np.random.default_rng(0)
    index = np.broadcast_to(np.arange(frames, dtype=np.float32)[:, None, None], (frames, N_MELS, 2))
    stems = [np.stack([index + 1000 * song + 100000 * k for k in range(4)]) for song in range(6)]
    songs = Songs(contexts=[s - 0.5 for s in stems], stems=stems,
                  starts=[[np.arange(frames - WINDOW_FRAMES - SHIFT_FRAMES[1])] * 4 for _ in stems])
    contexts, stem_windows, shifted = sample_batch(songs, 4, rng)
    assert contexts.shape == stem_windows.shape == shifted.shape == (4, WINDOW_FRAMES, N_MELS, 2)
    np.testing.assert_array_equal(contexts + 0.5, stem_windows)
    first = stem_windows[:, 0, 0, 0]
    assert len({int(v) // 1000 % 100 for v in first}) == 4  # four different songs
    offsets = np.abs(shifted[:, 0, 0, 0] - first)
    assert ((offsets >= SHIFT_FRAMES[0]) & (offsets <= SHIFT_FRAMES[1])).all()
    with pytest.raises(ValueError, match="different songs"):
        sample_batch(songs, 7, rng)


def test_playing_starts_need_the_stem_to_play_in_half_the_window():
    db = np.full((600, N_MELS, 2), -100.0, np.float32)
    db[300:] = -30.0  # plays from frame 300 on
    starts = playing_starts(db)
    assert starts.min() == 300 - WINDOW_FRAMES // 2 and starts.max() == 600 - WINDOW_FRAMES


def synthetic_pairs(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """2-s contexts and stems that share a pitch and a pulse rate: learnable, different per pair.
    (The encoder pools over time, so windows shorter than WINDOW_FRAMES keep the test fast.)"""
    contexts, stems = [], []
    for _ in range(count):
        freq, period = rng.uniform(100, 800), rng.uniform(0.1, 0.6)
        pulse = clicks(period, 2.0)
        contexts.append(features(tone(freq, 2.0) + pulse, FEATURE_RATE)[:96])
        stems.append(features(tone(2 * freq, 2.0) + 0.5 * pulse, FEATURE_RATE)[:96])
    return np.stack(contexts), np.stack(stems)


def test_a_short_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    contexts, stems = synthetic_pairs(8, rng)
    shifted = np.roll(stems, 1, axis=0)  # extra negatives: the other pairs' stems
    optimizer = optax.adam(1e-2)
    params = init_params(TINY, 0)
    opt_state = optimizer.init(params)
    train_step, _ = make_steps(TINY, optimizer)
    losses = []
    for _ in range(25):  # each step reports the loss of the parameters it started from
        params, opt_state, loss, _ = train_step(params, opt_state, contexts, stems, shifted)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


# ----------------------------------------------------------------------------------------------
# Checkpoints and the shipped model


def test_checkpoint_round_trip_and_one_line_errors(tmp_path):
    params = init_params(TINY, 3)
    save_checkpoint(tmp_path / "ckpt", params, TINY, {"seed": 3})
    model = load_coherence(tmp_path / "ckpt")
    assert model.config == TINY and model.meta["seed"] == 3
    audio = tone(220.0, 7.0)
    assert model.window_scores(audio, audio, FEATURE_RATE).shape == (2,)
    assert np.isfinite(model.score(audio, audio, FEATURE_RATE))
    with pytest.raises(ValueError, match="sample rate"):
        model.score(audio, audio, 8000)
    with pytest.raises(ValueError, match="same shape"):
        model.score(audio, audio[:-1], FEATURE_RATE)
    with pytest.raises(FileNotFoundError, match="not a coherence checkpoint"):
        load_coherence(tmp_path / "missing")
    save_checkpoint(tmp_path / "other", init_params(ModelConfig(channels=(4, 8), embedding=8), 0), TINY, {})
    with pytest.raises(ValueError, match="wrong shape"):
        load_coherence(tmp_path / "other")
    save_checkpoint(tmp_path / "foreign", params, TINY, {"format": "something-else"})
    with pytest.raises(ValueError, match="checkpoint format"):
        load_coherence(tmp_path / "foreign")


def test_shipped_model_prefers_the_true_stem_over_another_songs(tmp_path):
    """Unseen songs (dataset seed 1): context vs its own stem, and vs the same stem of the next song."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.data.render import render_dataset
    from jaxaccomp.data.slakh import accompaniment, load_split

    model = load_coherence()
    assert model.meta["held_out"]["test"]["accuracy"] > 5 * model.meta["held_out"]["chance_accuracy"]
    render_dataset(tmp_path, 3, "test", 1, 1, seconds=10.0)
    songs = [track.stems for track in load_split(tmp_path, "test").tracks]
    length = min(s.shape[1] for s in songs)
    true, other = [], []
    for i, stems in enumerate(songs):
        for k in range(4):
            context = accompaniment(stems[:, :length], k)
            true.append(model.score(context, stems[k, :length], SR))
            other.append(model.score(context, songs[(i + 1) % len(songs)][k, :length], SR))
    assert np.mean(true) > np.mean(other)
    assert np.mean(np.array(true) > np.array(other)) >= 0.75


def test_default_checkpoint_is_the_shipped_folder():
    assert (DEFAULT_CHECKPOINT / "meta.json").is_file() and (DEFAULT_CHECKPOINT / "params.npz").is_file()
