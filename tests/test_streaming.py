"""The streaming engine: step planning, sample-accurate placement, refusals, the compiled generator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate

from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.diffusion.masks import frame_aligned_masks
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming import Generator, StepPlan, StreamingEngine, plan_step
from tests.support.predictors import FakePredictor

HOP = 4096
FADE = 882
FADE_S = FADE / 44100  # the same fade in seconds, as StreamSettings takes it
PAD_COLUMNS = 64  # the click track's latents start this many columns before sample 0 (silence there)
STEPS = 3
CONFIGS = [(T, r, w) for T in (264600, 262144) for r in (1 / 8, 1 / 4, 1 / 2) for w in (-1, 0, 1) if (w + 2) * r <= 1]


# ----------------------------------------------------------------------------------------------
# Planner


def test_plan_of_the_reference_defaults():
    """T = 264600, r = 1/4, w = 1: steps of 66150 samples, not whole columns (numbers by hand)."""
    assert StreamSettings(264600, 0.25, 1, FADE_S).step == 66150
    # P = 66150: content [132300, 198450); window ends at ceil(198450 / 4096) = 49 columns.
    assert plan_step(66150, 66150, 1, FADE) == StepPlan(
        playback=66150, write_start=131418, content_start=132300, content_end=198450,
        window_start=49 * HOP - 64 * HOP,  # -61440: before the stream, silence there
        first_masked=31,  # (66150 + 61440) // 4096: window column 30 ends at 65536 <= P, 31 holds P
        first_generated=47,  # (132300 + 61440) // 4096: absolute column 32 = [131072, 135168) holds W0
        decode_start_column=31,  # 131418 // 4096 = 32, minus one margin column
        decode_end_column=49)
    plan = plan_step(132300, 66150, 1, FADE)
    assert (plan.window_start, plan.first_masked, plan.first_generated) == (4096, 31, 47)
    assert (plan.decode_start_column, plan.decode_end_column) == (47, 65)
    assert (plan.cut, plan.length) == (197568 - 47 * HOP, 66150 + FADE)


def test_plan_of_whole_column_steps_matches_the_reference_masks():
    """T = 262144 = 64 columns: with grid-aligned positions our masks are the reference's."""
    plan = plan_step(3 * 65536, 65536, 1, FADE)
    assert (plan.window_start, plan.first_masked, plan.first_generated) == (65536, 32, 48)
    assert (plan.decode_start_column, plan.decode_end_column, plan.cut) == (62, 80, 7310)
    for T, r, w in CONFIGS:
        if T == 262144:
            step = StreamSettings(T, r, w, FADE_S).step
            for k in range(1, 4):
                plan = plan_step(k * step, step, w, FADE)
                assert (plan.first_masked, plan.first_generated) == frame_aligned_masks(r, w)


@pytest.mark.parametrize("args, message", [
    ((264600, 0.25, 2, FADE_S), "w must be -1, 0 or 1"),
    ((264600, 0.5, 1, FADE_S), r"\(w\+2\)\*r must be at most 1"),
    ((264600, 0.0, 0, FADE_S), r"r must be in \(0, 1\]"),
    ((3, 0.25, 0, FADE_S), "step of 0 samples"),
    ((264600, 1 / 128, 1, FADE_S), "step of 2067 samples, shorter than one latent frame"),
    ((1000, 0.25, 1, FADE_S), "step of 250 samples, shorter than one latent frame"),
    ((264600, 0.25, 1, -1), "fade must be from 0 to 1 s"),
    ((264600, 1.0, -1, FADE_S), "does not fit the model window"),  # 264600 samples > 64 columns
])
def test_validate_refuses_impossible_settings(args, message):
    with pytest.raises(ValueError, match=message):
        StreamSettings(*args)


def test_validate_accepts_every_possible_setting():
    assert StreamSettings(262144, 1.0, -1, FADE_S).step == 262144  # exactly the window, always grid-aligned
    assert StreamSettings(264600, 1 / 3, 1, FADE_S).step == 88200


def test_plan_refuses_impossible_steps():
    with pytest.raises(ValueError, match="playback position must not be negative"):
        plan_step(-1, 66150, 1, FADE)
    with pytest.raises(ValueError, match="does not fit the model window"):
        plan_step(262144 + 1, 262144, -1, FADE)  # a whole window that is not grid-aligned needs 65 columns


# ----------------------------------------------------------------------------------------------
# Placement: an oracle generator and the embedded codec


@pytest.fixture(scope="module")
def codec():
    return EmbeddedCodec()


@pytest.fixture(scope="module")
def clicks(codec):
    """(click track, its latents on the absolute grid from column -PAD_COLUMNS): irregular decaying bursts."""
    rng = np.random.default_rng(0)
    length = (STEPS + 2) * 132300
    track = np.zeros(length, np.float32)
    for at in np.cumsum(rng.integers(2500, 9000, length // 2500)):
        if at + 200 < length:
            burst = rng.uniform(0.3, 0.9) * rng.standard_normal(200) * np.exp(-np.arange(200) / 40)
            track[at:at + 200] += burst.astype(np.float32)
    padded = np.concatenate([np.zeros(PAD_COLUMNS * HOP, np.float32), track, np.zeros(PAD_COLUMNS * HOP, np.float32)])
    return track, codec.encode(padded[None])[0]


class Oracle(FakePredictor):
    """A Predictor that knows the answer: the click track's latents at the window's absolute columns."""

    def __init__(self, latents: np.ndarray):
        self.latents = latents

    def __call__(self, plan, source, context, labels, key):
        start = plan.window_column + PAD_COLUMNS
        return np.broadcast_to(self.latents[:, start:start + self.width], source.shape).copy()


def placement_error(out: np.ndarray, reference: np.ndarray, start: int, max_lag: int) -> tuple[int, float]:
    """(samples by which `out` lands late against reference[start:], correlation at the best lag)."""
    segment = reference[start - max_lag:start + out.shape[0] + max_lag]
    corr = correlate(segment, out, mode="valid", method="fft")
    best = int(np.argmax(corr))
    matched = segment[best:best + out.shape[0]]
    return max_lag - best, float(corr[best] / (np.linalg.norm(matched) * np.linalg.norm(out) + 1e-12))


def energy(x: np.ndarray, n: int = 256) -> np.ndarray:
    return np.convolve(np.square(x, dtype=np.float64), np.ones(n) / n, mode="same")


@pytest.mark.parametrize("T, r, w", CONFIGS)
def test_generated_audio_lands_at_its_absolute_position(codec, clicks, T, r, w):
    """Every returned sample is the decode of the click track's latents at that very sample.

    The reference is decoded independently from the click track's own latents over the columns and
    seed the step reports, so it matches the engine to the sample only if the engine stored every
    generated column at the right absolute index and cut the right samples; a 100-sample error must
    show as 100. (The codec quantises onsets to 512-sample blocks, so the raw clicks themselves can
    only confirm the position to within a block; the reference server is 1804 samples late.)
    """
    track, latents = clicks
    stems = ("bass", "drums")
    engine = StreamingEngine(codec, Oracle(latents), stems, StreamSettings(T, r, w, FADE_S), seed=3)
    step = engine.step_size
    for k in range(1, STEPS + 1):
        playback = k * step
        result = engine.step(track[playback - step:playback])
        assert result.write_start == playback + w * step - FADE
        assert all(a.shape == (step + FADE,) and a.dtype == np.float32 for a in result.audio.values())
        if k == 1:
            continue  # the first step's known columns are the cold-start silence latent, not the clicks
        plan = result.plan
        columns = latents[None, :, plan.decode_start_column + PAD_COLUMNS:plan.decode_end_column + PAD_COLUMNS]
        reference = codec.decode(np.repeat(columns, len(stems), axis=0), seed=result.decode_seed,
                                 start_column=plan.decode_start_column)
        start = result.write_start - plan.decode_start_column * HOP
        for i, stem in enumerate(stems):
            out = result.audio[stem]
            error, corr = placement_error(out, reference[i], start, max_lag=2048)
            assert abs(error) <= 1 and corr > 0.999, (k, stem, error, corr)
            np.testing.assert_allclose(out, reference[i, start:start + out.shape[0]], atol=1e-6)
            late = np.concatenate([np.zeros(100, np.float32), out[:-100]])
            assert placement_error(late, reference[i], start, max_lag=2048)[0] == 100
            coarse, _ = placement_error(energy(out), energy(track), result.write_start, max_lag=2048)
            assert abs(coarse) < 512, (k, stem, coarse)


@pytest.mark.parametrize("r", [1 / 4, 1 / 16, 1 / 64])
def test_a_held_note_does_not_dip_where_the_client_crossfades_one_step_into_the_next(codec, r):
    """Each step decodes its columns again and the client crossfades its lead-in into the audio it holds.
    Two decodes of one held note at different phases cancel in the crossfade: before each step's decode
    was placed in the stream, a held 196-Hz note dipped at every step boundary (over the boundary's
    sixteenth of the step, to 0.84 of its level at r = 1/16 and 0.70 at r = 1/64: a flutter at 2.7 and
    10.7 Hz). Now the streamed note is one decode of the whole stream, crossfades included: within 1 %
    of its peak, and its level per 256 samples within 0.2 dB, from 6 s to 18 s."""
    from jaxaccomp.tracks import crossfade_into

    t = np.arange(20 * 44100) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 196 * t) + 0.1 * np.sin(4 * np.pi * 196 * t)).astype(np.float32)
    silence = np.zeros(PAD_COLUMNS * HOP, np.float32)
    analysed = codec.encode(np.concatenate([silence, tone, silence])[None])
    latents = codec.in_tune(analysed, analysed[0])[0]  # one pitch, as the engine plays every note it puts in tune
    settings = StreamSettings(r=r, w=-1)
    engine = StreamingEngine(codec, Oracle(latents), ("guitar",), settings, seed=1)
    part = np.zeros(tone.shape[0], np.float32)
    for k in range(1, tone.shape[0] // engine.step_size + 1):
        result = engine.step(tone[(k - 1) * engine.step_size:k * engine.step_size])
        crossfade_into(part, result.write_start, result.audio["guitar"], settings.fade_samples)
    whole = codec.decode(latents[None], seed=result.decode_seed, start_column=-PAD_COLUMNS)[0, PAD_COLUMNS * HOP:]
    held, reference = (x[6 * 44100:6 * 44100 + 2067 * 256] for x in (part, whole))  # 12 s
    assert np.max(np.abs(held - reference)) < 0.01 * np.max(np.abs(reference))
    level = [10 * np.log10(np.mean(x.reshape(-1, 256) ** 2, axis=1)) for x in (held, reference)]
    assert np.max(np.abs(level[0] - level[1])) < 0.2


# ----------------------------------------------------------------------------------------------
# Refusals and state


def test_bad_steps_are_refused_and_leave_the_engine_unchanged(codec, clicks):
    track, latents = clicks
    engine = StreamingEngine(codec, Oracle(latents), ("piano",))
    twin = StreamingEngine(codec, Oracle(latents), ("piano",))
    step = engine.step_size
    for e in (engine, twin):
        e.step(track[:step])
    bad = track[step:2 * step].copy()
    bad[100] = np.nan
    for audio, end, message in [(bad, None, "NaN or infinite"), (track[:step - 1], None, "takes 66150 mono samples"),
                                (np.stack([track[:step]] * 2), None, "takes 66150 mono samples"),
                                (track[:step], step - 1, "cannot go back")]:
        with pytest.raises(ValueError, match=message):
            engine.step(audio, end)
    assert (engine.position, engine.steps_taken) == (twin.position, twin.steps_taken) == (step, 1)
    a, b = engine.step(track[step:2 * step]), twin.step(track[step:2 * step])
    for stem in a.audio:
        np.testing.assert_array_equal(a.audio[stem], b.audio[stem])


@pytest.mark.parametrize("stems", [(), ("bass", "bass"), ("vocals",)])
def test_engine_refuses_bad_stems(codec, clicks, stems):
    with pytest.raises(ValueError, match="stems must be distinct names"):
        StreamingEngine(codec, Oracle(clicks[1]), stems)


def test_the_engine_raises_each_part_by_its_make_up_gain(codec, clicks):
    """Every front end plays the level the generator asks for: each stem's decoded part times its own
    gain (through the soft limiter), the others as decoded."""
    from jaxaccomp.streaming.level import soft_limit

    class Raised(Oracle):
        makeup_gain_db = {"bass": 6.0}

    track, latents = clicks
    plain, raised = (StreamingEngine(codec, cls(latents), ("bass", "drums")) for cls in (Oracle, Raised))
    step = plain.step_size
    for k in range(2):
        a, b = plain.step(track[k * step:(k + 1) * step]), raised.step(track[k * step:(k + 1) * step])
        np.testing.assert_array_equal(b.audio["drums"], a.audio["drums"])
        np.testing.assert_allclose(b.audio["bass"], soft_limit(a.audio["bass"] * 10 ** (6 / 20)), rtol=1e-6, atol=1e-7)
        assert np.abs(a.audio["bass"]).max() > 0.01  # the clicks are heard, so the gain is seen


def test_lead_in_ramp_reproduces_the_reference_server(codec, clicks):
    track, latents = clicks
    plain, ramped = (StreamingEngine(codec, Oracle(latents), ("bass",), ramp_lead_in=ramp) for ramp in (False, True))
    step = plain.step_size
    a, b = plain.step(track[:step]), ramped.step(track[:step])
    ramp = np.linspace(0.0, 1.0, FADE, dtype=np.float32)
    np.testing.assert_allclose(b.audio["bass"][:FADE], a.audio["bass"][:FADE] * ramp, atol=1e-7)
    np.testing.assert_array_equal(b.audio["bass"][FADE:], a.audio["bass"][FADE:])


# ----------------------------------------------------------------------------------------------
# The real, compiled generator


@pytest.mark.parametrize("mode", ["diffusion", "consistency"])
def test_generator_serves_without_recompiling(codec, tiny_net, mode):
    from jaxaccomp.nn.precond import Denoiser

    generator = Generator(Denoiser(tiny_net, mode=mode), steps=2)
    generator.warm_up(2)
    assert generator.compilations == 1
    engine = StreamingEngine(codec, generator, ("bass", "piano"), seed=7)
    rng = np.random.default_rng(0)
    blocks = [0.1 * rng.standard_normal(engine.step_size).astype(np.float32) for _ in range(3)]
    first = [engine.step(block) for block in blocks]
    assert generator.compilations == 1  # three steps with different masks, not one recompilation
    for result in first:
        assert set(result.audio) == {"bass", "piano"}
        assert all(a.shape == (66150 + FADE,) and np.all(np.isfinite(a)) for a in result.audio.values())
        assert set(result.timings) == {"encode_ms", "sample_ms", "decode_ms"}
    engine.reset()
    again = engine.step(blocks[0])  # same seed, same step index: the same audio
    for stem in again.audio:
        np.testing.assert_array_equal(again.audio[stem], first[0].audio[stem])
    assert generator.compilations == 1


def test_generator_refuses_too_few_steps(tiny_net):
    from jaxaccomp.nn.precond import Denoiser

    with pytest.raises(ValueError, match="at least 2 steps"):
        Generator(Denoiser(tiny_net), steps=1)
