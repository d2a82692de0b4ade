"""The embedded codec keeps what the model and a listener need: onsets, level, spectral envelope, harmony, pitch."""

from pathlib import Path

import numpy as np
import pytest

from jaxaccomp.codec.base import decoded_length
from jaxaccomp.codec.embedded import EmbeddedCodec

SR = 44100


@pytest.fixture(scope="module")
def codec():
    return EmbeddedCodec()


def drum_pattern(seed: int, frames: int = 40) -> np.ndarray:
    """Noise-burst hits at irregular times over a quiet pad: a rhythm with no fixed period."""
    rng = np.random.default_rng(seed)
    n = decoded_length(frames)
    audio = 0.01 * np.sin(2 * np.pi * 220 * np.arange(n) / SR)
    position = 2000
    decay = np.exp(-np.arange(4000) / 500)
    while position < n - 4000:
        audio[position:position + 4000] += 0.6 * rng.standard_normal(4000) * decay
        position += int(rng.uniform(0.1, 0.4) * SR)
    return audio[None].astype(np.float32)


def onset_envelope(audio: np.ndarray) -> np.ndarray:
    """Positive change of log energy per 512-sample hop."""
    hops = audio[0, : audio.shape[1] // 512 * 512].reshape(-1, 512)
    energy = np.log(np.square(hops).sum(axis=1) + 1e-6)
    return np.maximum(np.diff(energy), 0.0)


def test_round_trip_keeps_onsets(codec):
    original = drum_pattern(seed=1)
    decoded = codec.decode(codec.encode(original), seed=0)
    control = codec.decode(codec.encode(drum_pattern(seed=2)), seed=0)
    kept = np.corrcoef(onset_envelope(original), onset_envelope(decoded))[0, 1]
    shuffled = np.corrcoef(onset_envelope(original), onset_envelope(control))[0, 1]
    assert kept > 0.5, f"onset correlation after a round trip {kept:.3f}"
    assert kept > shuffled + 0.3, f"onset correlation {kept:.3f}, with another pattern's {shuffled:.3f}"


def instrument(kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = decoded_length(32)
    t = np.arange(n) / SR
    if kind == "bass":
        f0 = rng.uniform(41, 82)
        audio = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    elif kind == "hihat":
        noise = np.diff(rng.standard_normal(n + 1))  # high-passed
        audio = noise * (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0.6)
    else:  # piano-like chord with decaying harmonics
        root = 261.63 * 2 ** (rng.integers(0, 5) / 12)
        audio = sum(np.sin(2 * np.pi * root * r * k * t) * np.exp(-3 * t % 1) / k
                    for r in (1, 2 ** (4 / 12), 2 ** (7 / 12)) for k in (1, 2, 3, 4))
    return (0.2 * audio / np.abs(audio).max())[None].astype(np.float32)


def test_latents_tell_instruments_apart(codec):
    kinds = ("bass", "hihat", "piano")
    means = {(k, s): codec.encode(instrument(k, s))[0].mean(axis=1) for k in kinds for s in (0, 1)}
    within = max(np.linalg.norm(means[k, 0] - means[k, 1]) for k in kinds)
    between = min(np.linalg.norm(means[a, s] - means[b, u]) for a in kinds for b in kinds if a < b
                  for s in (0, 1) for u in (0, 1))
    assert between > 2 * within


def test_round_trip_keeps_the_pitch_classes_of_a_chord(codec):
    n = decoded_length(16)
    t = np.arange(n) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))  # C, E, G
    latents = codec.encode((0.2 * chord)[None].astype(np.float32))
    again = codec.encode(codec.decode(latents, seed=3))
    for z in (latents, again):
        strongest = set(np.argsort(z[0, 44:56].mean(axis=1))[-3:])
        assert strongest == {0, 4, 7}, f"strongest pitch classes {sorted(strongest)}"


def test_round_trip_keeps_the_spectral_envelope(codec):
    low = instrument("bass", 0)
    high = instrument("hihat", 0)
    for audio in (low, high, instrument("piano", 0)):
        latents = codec.encode(audio)
        again = codec.encode(codec.decode(latents, seed=0))
        bands = latents[0, :36].mean(axis=1)
        loud = bands > bands.max() - 1.5  # bands within about 26 dB of the loudest one
        error = np.abs(again[0, :36].mean(axis=1) - bands)[loud]
        assert loud.sum() >= 3
        assert error.max() < 0.5, f"band error {error.max():.2f}"  # in latent units: a factor of e^2 in band power


# ----------------------------------------------------------------------------------------------
# Pitch and level (the pitch channels, 56-63)

# Test notes from the lowest bass string to the top of a melody (MIDI keys).
NOTES = {"E1": 28, "A1": 33, "C2": 36, "G2": 43, "C3": 48, "A3": 57, "C4": 60, "A4": 69, "C5": 72, "C6": 84}
CENTS = 50  # a round trip may move a note by at most a quarter tone
# Rendered notes: GM program, reverb send (CC91, as the song renderer sets them) and MIDI keys.
RENDERED = {
    "bass": (33, 10, (28, 33, 36, 40, 45, 48, 55)),  # fingered bass, E1 - G3
    "piano": (0, 50, (48, 55, 60, 67, 72, 79, 84)),  # acoustic grand, C3 - C6
    "guitar": (25, 50, (40, 45, 48, 55, 60, 67, 72, 84)),  # steel guitar, E2 - C6
}
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # pitch classes, for messages


def hz(key: int) -> float:
    return 440.0 * 2 ** ((key - 69) / 12)


def key_name(key: int) -> str:
    return f"{NAMES[key % 12]}{key // 12 - 1}"


def tone(f0: float, kind: str, seconds: float, peak: float = 0.2) -> np.ndarray:
    """A sine, or a harmonic tone with every partial below 16 kHz at 1/k (a band-limited sawtooth)."""
    t = np.arange(int(seconds * SR)) / SR
    partials = (1,) if kind == "sine" else range(1, int(16000 / f0) + 1)
    audio = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in partials)
    fade = np.clip(np.minimum(t / 0.01, (seconds - t) / 0.05), 0.0, 1.0)  # no clicks at the ends
    return (peak * fade * audio / np.abs(audio).max()).astype(np.float32)


def padded(audio: np.ndarray, frames: int) -> np.ndarray:
    """`audio` at the start of a clip of `frames` latent frames."""
    out = np.zeros(decoded_length(frames), np.float32)
    out[:len(audio)] = audio[:len(out)]
    return out


def round_trip(codec, audio: np.ndarray) -> np.ndarray:
    return codec.decode(codec.encode(audio[None]), seed=0)[0]


def pitch_error(audio: np.ndarray, f0: float, start: float, stop: float) -> float:
    """Cents from `f0` of pYIN's median f0 over the voiced frames from `start` to `stop` seconds.

    pYIN searches an octave and more either side of `f0`, so octave errors show; NaN if no frame
    there is voiced.
    """
    librosa = pytest.importorskip("librosa")
    fmin = f0 / 2.2
    frame_length = max(2048, int(2 ** np.ceil(np.log2(2.2 * SR / fmin))))  # two periods of fmin
    f, voiced, _ = librosa.pyin(audio.astype(np.float64), fmin=fmin, fmax=2.2 * f0, sr=SR,
                                frame_length=frame_length, hop_length=512)
    times = librosa.times_like(f, sr=SR, hop_length=512)
    keep = voiced & (times > start) & (times < stop)
    return float(1200 * np.log2(np.median(f[keep]) / f0)) if keep.any() else float("nan")


def assert_pitches_kept(errors: dict[str, float], what: str) -> None:
    table = ", ".join(f"{name} {error:+.0f}" for name, error in errors.items())
    assert all(abs(error) <= CENTS for error in errors.values()), f"{what}: cents off after a round trip: {table}"


@pytest.mark.parametrize("kind", ["sine", "harmonic"])
def test_round_trip_keeps_the_pitch_of_tones(codec, kind):
    errors = {}
    for name, key in NOTES.items():
        decoded = round_trip(codec, padded(tone(hz(key), kind, 2.3), 26))
        errors[name] = pitch_error(decoded, hz(key), 0.3, 2.1)
    assert_pitches_kept(errors, f"{kind} tones")


@pytest.fixture(scope="module")
def synth():
    """The song renderer's FluidSynth with Debian's General MIDI soundfont."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, Synthesizer

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    return Synthesizer(DEFAULT_SOUNDFONT)


def render(synth, stem: str, program: int, reverb: int, notes: list[tuple[int, float, float]], frames: int,
           is_drum: bool = False) -> np.ndarray:
    """(key, start s, end s) notes played on one GM program, as a clip of `frames` latent frames."""
    from jaxaccomp.data.compose import Note, Stem

    played = [Note(key, start, end, 100) for key, start, end in notes]
    return synth.render(Stem(stem, program, is_drum, played, reverb, {}), decoded_length(frames))


@pytest.mark.parametrize("stem", list(RENDERED))
def test_round_trip_keeps_the_pitch_of_rendered_notes(codec, synth, stem):
    program, reverb, keys = RENDERED[stem]
    errors = {}
    for key in keys:
        decoded = round_trip(codec, render(synth, stem, program, reverb, [(key, 0.05, 2.2)], frames=26))
        errors[key_name(key)] = pitch_error(decoded, hz(key), 0.2, 1.5)
    assert_pitches_kept(errors, f"{stem} (GM program {program})")


def test_a_rendered_bass_line_keeps_sounding_as_notes(codec, synth):
    """An analysed pitch moves a little from quarter to quarter. The oscillator must run on through it:
    re-anchored to the stream position at every quarter, a bass line came back as notes pyin hears
    as pitched a fifth of the time instead of four fifths (docs/codecs.md)."""
    from jaxaccomp.eval.intonation import pyin_track

    keys = [28, 31, 33, 35, 40, 38, 36, 33]  # E1 to E2
    line = render(synth, "bass", 33, 10, [(key, 0.5 * i + 0.05, 0.5 * i + 0.5) for i, key in enumerate(keys)], frames=48)
    original, decoded = pyin_track(line, SR)[1].mean(), pyin_track(round_trip(codec, line), SR)[1].mean()
    assert decoded >= 0.8 * original, f"pitched {decoded:.2f} of the time after a round trip, {original:.2f} before"


def test_pitch_channels_read_the_tones_and_glide_through_noise(codec):
    """A2, then noise, then A3: the pitch channels hold each tone's f0, the periodicity tells tones
    from noise, and through the noise the pitch glides from one tone to the other."""
    noise = 0.05 * np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    audio = padded(np.concatenate([tone(110.0, "harmonic", 1.0), noise, tone(220.0, "harmonic", 1.0)]), 32)
    latents = codec.encode(audio[None])[0]
    f0 = 200.0 * 2 ** (2 * latents[56:60].T.reshape(-1))  # quarter frames in time order
    periodicity = (latents[60:64].T.reshape(-1) + 1) / 2
    centre = (768 + 512 + 1024 * np.arange(f0.size)) / SR  # seconds
    first, gap, second = ((centre > a + 0.1) & (centre < b - 0.1) for a, b in ((0, 1), (1, 2), (2, 3)))
    cents = np.abs(1200 * np.log2(f0 / np.where(centre < 1.5, 110.0, 220.0)))[first | second]
    assert cents.max() < 10, f"cents off in the tones: {cents.max():.1f}"
    assert periodicity[first | second].min() > 0.9, f"tone periodicity {periodicity[first | second].min():.2f}"
    assert periodicity[gap].max() < 0.5, f"noise periodicity {periodicity[gap].max():.2f}"
    assert np.all((f0[gap] >= 109) & (f0[gap] <= 221)) and np.all(np.diff(f0[gap]) >= 0), \
        f"pitch through the noise (Hz): {np.round(f0[gap])}"


def test_codec_name_marks_the_pitch_layout(codec):
    # Models trained on the pitchless layout record codec "embedded"; loading them must fail.
    assert codec.name == "embedded-2"


def second_levels(audio: np.ndarray) -> np.ndarray:
    """dB RMS of each whole second."""
    seconds = audio[: len(audio) // SR * SR].astype(np.float64).reshape(-1, SR)
    return 10 * np.log10(np.mean(np.square(seconds), axis=1) + 1e-12)


def assert_level_kept(codec, audio: np.ndarray, what: str) -> None:
    """RMS of each second within 1 dB after a round trip, seconds 40 dB below the loudest aside."""
    original, decoded = second_levels(audio), second_levels(round_trip(codec, audio))
    loud = original > original.max() - 40
    error = (decoded - original)[loud]
    assert loud.sum() >= 3, f"{what}: only {loud.sum()} loud seconds"
    assert np.abs(error).max() <= 1.0, f"{what}: level error per second (dB): {np.round(error, 2)}"


@pytest.mark.parametrize("kind", ["sine", "harmonic"])
def test_round_trip_keeps_the_level_of_tones(codec, kind):
    # One second per note, E1 to C6, at peaks from 0.03 to 0.5 (-30 to -6 dBFS).
    peaks = np.geomspace(0.03, 0.5, len(NOTES))[np.random.default_rng(1).permutation(len(NOTES))]
    notes = [tone(hz(key), kind, 1.0, peak) for key, peak in zip(NOTES.values(), peaks)]
    assert_level_kept(codec, padded(np.concatenate(notes), 108), f"{kind} tones")


def test_round_trip_keeps_the_level_of_drums(codec):
    assert_level_kept(codec, drum_pattern(seed=1, frames=80)[0], "noise-burst drums")


def test_round_trip_keeps_the_level_of_a_rendered_mixture(codec, synth):
    """Two bars of bass, piano chords, a guitar line and drums at 120 bpm, four times over."""
    roots = [36, 41, 43, 38] * 2  # C, F, G, D
    bass = [(roots[i // 4] + 12 * (i % 2), 0.5 * i, 0.5 * i + 0.45) for i in range(32)]
    chords = [(roots[i] + 24 + step, 2.0 * i, 2.0 * i + 1.9) for i in range(8) for step in (0, 4, 7)]
    melody = [(roots[i // 4] + 36 + (0, 4, 7, 12)[i % 4], 0.5 * i, 0.5 * i + 0.4) for i in range(32)]
    beats = [((36, 42, 38, 42)[i % 4], 0.25 * i, 0.25 * i + 0.1) for i in range(64)]
    mixture = (render(synth, "bass", 33, 10, bass, 180) + render(synth, "piano", 0, 50, chords, 180)
               + render(synth, "guitar", 25, 50, melody, 180) + render(synth, "drums", 0, 20, beats, 180, is_drum=True))
    assert_level_kept(codec, mixture, "rendered mixture")


def test_a_window_of_a_stream_decodes_to_the_same_samples_as_the_whole_stream(codec):
    """Decoded at its place in the stream (`start_column`), a window of columns plays what one decode of
    the whole stream plays there, held notes and noise alike, away from its edges: the engine's steps
    decode overlapping windows and the client crossfades them, which must not dip. Placed at column 0
    instead, the held notes come out at other phases and the noise is other noise."""
    n = decoded_length(48)
    t = np.arange(n) / SR
    notes = np.where(t < 2.0, 110.0, 164.8)  # a bass note, then a fifth up
    tone = 0.4 * np.sin(2 * np.pi * np.cumsum(notes) / SR) + 0.2 * np.sin(4 * np.pi * np.cumsum(notes) / SR)
    audio = np.stack([tone, drum_pattern(seed=3, frames=48)[0]]).astype(np.float32)
    latents = codec.in_tune(codec.encode(audio), codec.encode(audio[:1])[0])  # held notes hold one pitch, as the engine plays them
    whole = codec.decode(latents, seed=5)
    for first, last in ((8, 24), (13, 40)):
        window = codec.decode(latents[..., first:last], seed=5, start_column=first)
        inner = slice(2 * 4096, (last - first - 2) * 4096)  # two columns from either edge
        reference = whole[:, first * 4096:][:, inner]
        assert np.max(np.abs(window[:, inner] - reference)) < 1e-3 * np.max(np.abs(reference))
        misplaced = codec.decode(latents[..., first:last], seed=5)[:, inner]
        assert np.max(np.abs(misplaced - reference)) > 0.1 * np.max(np.abs(reference))
