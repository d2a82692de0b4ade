"""The stop gate: the accompaniment falls silent when the band stops, comes back with it, ignores rests
and the band's loudness, and never looks ahead of the sample it acts on."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaccomp import stop_gate as gate
from jaxaccomp.accompany import accompany
from jaxaccomp.codec.embedded import EmbeddedCodec
from tests.support.predictors import FakePredictor

SR = 44100
BLOCK = gate.BLOCK


def band(*segments: tuple[float, float]) -> np.ndarray:
    """Concatenated (seconds, dBFS) segments of a 220 Hz tone with a little noise; None dB is digital silence."""
    rng = np.random.default_rng(0)
    parts = []
    for seconds, db in segments:
        t = np.arange(round(seconds * SR)) / SR
        tone = np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(t.shape)
        parts.append(np.zeros_like(t) if db is None else 10 ** (db / 20) * tone)
    return np.concatenate(parts).astype(np.float32)


def test_the_part_fades_out_after_the_band_stops_and_back_in_when_it_returns():
    context = band((3.0, -12), (1.0, None), (2.0, -12))
    gains = gate.sample_gains(context, SR, context.shape[0])
    stop, back = 3 * SR, 4 * SR
    assert np.all(gains[2 * BLOCK:stop] == 1.0)  # open while the band plays (after its first block)
    # closed within the hold, the fade and the two blocks the gate needs to hear the band and act
    silent_from = stop + round((gate.HOLD_S + gate.RELEASE_S) * SR) + 2 * BLOCK
    assert np.all(gains[silent_from:back] == 0.0)
    assert np.all(gains[stop:stop + round(gate.HOLD_S * SR)] == 1.0)  # not before the hold has passed
    assert np.all(gains[back + 2 * BLOCK:] == 1.0)  # and open again two blocks after the band returns
    assert np.max(np.abs(np.diff(gains))) <= 1.0 / BLOCK + 1e-6  # every change is a ramp: no click


def test_rests_shorter_than_the_hold_and_passages_a_little_quieter_keep_it_at_full_level():
    rests = [(0.4, -12), (gate.HOLD_S * 0.6, None)] * 6
    context = band(*rests, (1.0, -12 - gate.FOLLOW_DB + 1), (1.0, -12))  # then a passage 5 dB down
    gains = gate.sample_gains(context, SR, context.shape[0])
    assert np.all(gains[2 * BLOCK:] == 1.0)


@pytest.mark.parametrize("drop", [9.0, 15.0, 24.0])
def test_a_quieter_band_turns_the_part_down_three_db_per_db_beyond_six(drop):
    """The band falls `drop` dB for 3 s and comes back: once the loud blocks have left the hold the part
    plays FOLLOW_SLOPE dB lower for each dB beyond FOLLOW_DB; it falls no faster than the release
    (1 to 0 in RELEASE_S) and is back at full level within the two blocks the gate needs to hear it."""
    context = band((2.0, -12), (3.0, -12 - drop), (1.0, -12))
    gains = gate.sample_gains(context, SR, context.shape[0])
    expected = 10.0 ** (-gate.FOLLOW_SLOPE * (drop - gate.FOLLOW_DB) / 20.0)
    quiet, back = 2 * SR, 5 * SR
    settled = quiet + round((gate.HOLD_S + gate.RELEASE_S) * SR) + 2 * BLOCK
    np.testing.assert_allclose(gains[settled:back], expected, rtol=0.05)  # the tone's blocks vary a little
    assert np.min(np.diff(gains)) >= -1.0 / (gate.RELEASE_S * SR) - 1e-6  # down no faster than the release
    assert np.all(gains[back + 2 * BLOCK:] == 1.0)


def test_a_lasting_quieter_passage_returns_to_full_level_once_the_loud_one_is_forgotten():
    context = band((2.0, -12), (gate.REFERENCE_S + 2.0, -30))
    gains = gate.sample_gains(context, SR, context.shape[0])
    np.testing.assert_allclose(gains[3 * SR], 10.0 ** (-gate.FOLLOW_SLOPE * (18.0 - gate.FOLLOW_DB) / 20.0), rtol=0.05)
    forgotten = 2 * SR + gate.blocks_in(gate.REFERENCE_S, SR) * BLOCK + 3 * BLOCK  # its last block, heard and acted on
    assert np.all(gains[forgotten:] == 1.0)


def test_it_does_not_depend_on_how_loud_the_band_plays():
    context = band((2.0, -6), (1.0, -6 - gate.DROP_DB - 6), (1.0, -6))
    loud = gate.sample_gains(context, SR, context.shape[0])
    np.testing.assert_allclose(gate.sample_gains(context * 0.05, SR, context.shape[0]), loud, rtol=0, atol=1e-6)  # -26 dB
    assert loud[3 * SR - BLOCK] == 0.0  # a band 36 dB below its level counts as stopped


def test_a_stream_silent_from_the_start_stays_closed():
    assert not np.any(gate.sample_gains(np.zeros(SR, np.float32), SR, SR))
    assert not np.any(gate.sample_gains(band((1.0, -90)), SR, SR))  # below the absolute floor


@pytest.mark.parametrize("cut", [round(3.8 * SR) + 777, round(4.2 * SR) + 100])
def test_it_never_looks_ahead_of_the_block_it_acts_on(cut):
    """Output block k depends on the band up to the end of block k - 1 only: a band that comes back
    earlier, from sample `cut` on, changes nothing before the block after the one holding `cut`."""
    context = band((3.0, -12), (1.5, None), (1.0, -12))
    changed = context.copy()
    changed[cut:] = band((6.0, -12))[:changed.shape[0] - cut]
    a, b = (gate.sample_gains(c, SR, c.shape[0]) for c in (context, changed))
    first_affected = (cut // BLOCK + 1) * BLOCK
    np.testing.assert_array_equal(a[:first_affected], b[:first_affected])
    # the block holding `cut` is only partly the band: it opens the gate at a gain following its level
    assert a[first_affected + BLOCK - 1] == 0.0 and b[first_affected + BLOCK - 1] > 0.0
    assert b[first_affected + 2 * BLOCK - 1] == 1.0  # the next block is all band: full level


def test_output_past_the_bands_audio_keeps_the_last_decision():
    context = band((1.0, -12))
    gains = gate.sample_gains(context, SR, context.shape[0] + 3 * BLOCK)
    assert gains.shape == (context.shape[0] + 3 * BLOCK,) and np.all(gains[-3 * BLOCK:] == 1.0)
    assert gate.sample_gains(np.zeros(0, np.float32), SR, 10).tolist() == [0.0] * 10


class Tone(FakePredictor):
    """A Predictor that plays one held note whatever it hears: a part that never stops by itself."""

    def __init__(self, codec: EmbeddedCodec):
        note = np.sin(2 * np.pi * 110 * np.arange(8 * 4096) / SR).astype(np.float32)[None] * 0.3
        self.column = codec.encode(note)[0, :, 4]

    def __call__(self, plan, source, context, labels, key):
        return np.broadcast_to(self.column[:, None], source.shape).copy()


def test_accompany_applies_it_to_what_the_engine_wrote():
    codec = EmbeddedCodec()
    context = band((8.0, -12), (3.0, None))
    raw = accompany(context, SR, codec, Tone(codec), ["bass"], stop_gate=False)
    gated = accompany(context, SR, codec, Tone(codec), ["bass"])
    np.testing.assert_array_equal(gated, gate.apply(raw, context, SR))
    after_stop = slice(8 * SR + SR // 2, 11 * SR)
    assert np.all(np.abs(raw[0, after_stop]).reshape(-1, 441).max(axis=1) > 0.01)  # the part plays on
    assert not np.any(gated[0, after_stop])  # and stops with the band


@pytest.mark.parametrize("on", [True, False])
def test_the_python_client_writes_what_a_listener_heard(tmp_path, on):
    import soundfile as sf

    from jaxaccomp.client.core import ClientCore, ClientSettings
    from jaxaccomp.client.report import write_session

    context = band((2.0, -12), (1.0, None))
    core = ClientCore(ClientSettings(stop_gate=on), context.shape[0])
    core.tracks[:] = 0.25  # as if every reply had been a constant
    report = write_session(tmp_path, context, core, 1.0)
    heard = sf.read(tmp_path / "accompaniment.wav", dtype="float32")[0]
    expected = gate.apply(core.tracks, context, SR)[0] if on else core.tracks[0]
    np.testing.assert_array_equal(heard, expected)
    assert report["settings"]["stop_gate"] is on and bool(np.any(heard[-SR // 2:])) != on
