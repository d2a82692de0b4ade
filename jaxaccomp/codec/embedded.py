"""The embedded codec: a fixed DSP analysis/synthesis pair on Music2Latent's latent grid.

No learned weights and no network: it runs anywhere, offline, far faster than real time. Each
64-channel frame (4096 samples) holds
  0-43   log energies of 44 mel bands (30 Hz - 16 kHz): the spectral envelope;
  44-51  the log energy of each of the frame's eight 512-sample blocks relative to the frame mean:
         onsets and rhythm at 11.6 ms resolution;
  52-63  a 12-bin chroma (share of 55 Hz - 4.2 kHz energy per pitch class): harmony.
Decoding is a harmonic/noise vocoder: per frame, the band envelope times a pitch-class comb with
seeded random phases, overlap-added, then shaped in time by the block envelope. It keeps onsets, rhythm, spectral envelope and pitch classes,
not timbre detail, phase or exact pitch: it is a codec a small model can learn and a person can
hear, not a high-fidelity one.
"""

from __future__ import annotations

import numpy as np

from jaxaccomp.codec.base import GridConstants, check_audio, check_latents, decoded_length

N_FFT = 2048
STFT_HOP = 512
HOPS_PER_FRAME = 8  # 4096 / 512
MEL_BANDS = 44
CHROMA_BINS = 12
MEL_RANGE_HZ = (30.0, 16000.0)
CHROMA_RANGE_HZ = (55.0, 4200.0)
HARMONIC_SHARE = 0.8  # of each bin's energy given to the pitch-class comb when decoding
# Affine maps from natural-log features to roughly unit-scale latents.
LOG_POWER_OFFSET, LOG_POWER_SCALE = 8.0, 4.0
ENVELOPE_SCALE = 3.0
CHROMA_SCALE = 2.0
FLOOR = 1e-8
# Relative floors keep silent hops and absent pitch classes at bounded latent values.
ENVELOPE_FLOOR = 1e-5
CHROMA_FLOOR = 1e-2
BAND_CORRECTIONS = 12  # iterations that undo the mel filters' overlap when decoding
ENVELOPE_WINDOW = 512  # samples of the Hann window that measures each hop's energy
ENVELOPE_RAMP = 64  # samples over which a block's amplitude changes when decoding
ENVELOPE_TOLERANCE = 1.0  # block energy errors (in nats) that decoding leaves uncorrected
# Synthesis gains that make a decoded hop analyse to the encoded power after window-normalised
# overlap-add: random-phase hops add incoherently (a factor N/hop of power is lost), phase-coherent
# hops add up as sinusoids (window sum 2 over window-square sum 1.5, and irfft's 2/N vs Hann's N/4).
INCOHERENT_GAIN = (N_FFT / STFT_HOP) ** 0.5
COHERENT_GAIN = 1.5
_MEL = slice(0, MEL_BANDS)
_ENVELOPE = slice(MEL_BANDS, MEL_BANDS + HOPS_PER_FRAME)
_CHROMA = slice(MEL_BANDS + HOPS_PER_FRAME, MEL_BANDS + HOPS_PER_FRAME + CHROMA_BINS)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int = 44100) -> np.ndarray:
    """[bins, bands] triangular filters, each summing to 1: a band value is a weighted mean bin power."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(*_hz_to_mel(np.array(MEL_RANGE_HZ)), MEL_BANDS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)  # [bands, bins]
    return (weights / weights.sum(axis=1, keepdims=True)).T


def chroma_weights(sample_rate: int = 44100) -> np.ndarray:
    """[bins, 12] soft pitch-class membership of each bin inside the chroma range (0 outside)."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    inside = (freqs >= CHROMA_RANGE_HZ[0]) & (freqs <= CHROMA_RANGE_HZ[1])
    pitch = 12.0 * np.log2(np.maximum(freqs, 1.0) / 440.0) + 69.0
    distance = np.abs(((pitch[:, None] - np.arange(CHROMA_BINS)[None, :]) + 6.0) % 12.0 - 6.0)
    return np.exp(-0.5 * (distance / 0.5) ** 2) * inside[:, None]


def _spectral_peaks(power: np.ndarray) -> np.ndarray:
    """Power at local maxima along the last axis, 0 elsewhere: keeps window leakage out of chroma."""
    left = np.pad(power[..., :-1], [(0, 0)] * (power.ndim - 1) + [(1, 0)])
    right = np.pad(power[..., 1:], [(0, 0)] * (power.ndim - 1) + [(0, 1)])
    return np.where((power >= left) & (power >= right), power, 0.0)


class EmbeddedCodec(GridConstants):
    """Mel envelope + hop envelope + chroma analysis, harmonic/noise vocoder synthesis."""

    name = "embedded"
    is_pretrained = False

    def __init__(self) -> None:
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
        self.envelope_window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(ENVELOPE_WINDOW) / ENVELOPE_WINDOW)
        # Stationary audio of variance v has STFT power summed over bins (N/2) v sum(window^2) and
        # envelope-window energy v sum(envelope window): the ratio turns one into the other.
        self.block_energy_per_power = self.envelope_window.sum() / (N_FFT / 2 * np.square(self.window).sum())
        self.mel = mel_filterbank(self.sample_rate)
        self.chroma = chroma_weights(self.sample_rate)
        # Decoding spreads each band's mean power back over its bins.
        self.mel_to_bins = self.mel / np.maximum(self.mel.sum(axis=1, keepdims=True), FLOOR)  # [bins, bands]
        self.covered = self.mel.sum(axis=1) > 0
        self.chroma_share = self.chroma / np.maximum(self.chroma.sum(axis=1, keepdims=True), FLOOR)

    def _power(self, audio: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT, axis=1)[:, ::STFT_HOP]
        return np.abs(np.fft.rfft(frames * self.window, axis=-1)) ** 2  # [B, 8T, bins]

    def encode(self, audio: np.ndarray) -> np.ndarray:
        audio = check_audio(audio)
        power = self._power(audio.astype(np.float64))
        b, hops, _ = power.shape
        frames = hops // HOPS_PER_FRAME
        per_frame = power.reshape(b, frames, HOPS_PER_FRAME, -1)

        bands = per_frame.mean(axis=2) @ self.mel  # [B, T, 44]
        block_energy = self._block_energy(audio, frames) + FLOOR  # [B, T, 8]
        envelope = np.log(block_energy / block_energy.mean(axis=2, keepdims=True) + ENVELOPE_FLOOR)
        chroma = _spectral_peaks(per_frame.sum(axis=2)) @ self.chroma + FLOOR  # [B, T, 12]
        share = chroma / chroma.sum(axis=2, keepdims=True)

        latents = np.concatenate([
            (np.log(bands + FLOOR) + LOG_POWER_OFFSET) / LOG_POWER_SCALE,
            envelope / ENVELOPE_SCALE,
            np.log(CHROMA_BINS * share + CHROMA_FLOOR) / CHROMA_SCALE,
        ], axis=2)
        return latents.transpose(0, 2, 1).astype(np.float32)

    def decode(self, latents: np.ndarray, seed: int = 0) -> np.ndarray:
        latents = check_latents(latents).astype(np.float64).transpose(0, 2, 1)  # [B, T, 64]
        b, frames, _ = latents.shape
        band_power = np.exp(latents[..., _MEL] * LOG_POWER_SCALE - LOG_POWER_OFFSET)
        block_gain = np.maximum(np.exp(latents[..., _ENVELOPE] * ENVELOPE_SCALE) - ENVELOPE_FLOOR, 0.0) + FLOOR
        share = np.maximum(np.exp(latents[..., _CHROMA] * CHROMA_SCALE) - CHROMA_FLOOR, 0.0) + FLOOR
        share /= share.sum(axis=2, keepdims=True)

        comb = CHROMA_BINS * (share @ self.chroma_share.T)  # 1 everywhere when chroma is flat
        harmonic_share = np.where(self.chroma.sum(axis=1) > 0, HARMONIC_SHARE, 0.0)
        tonal = harmonic_share * comb + (1 - harmonic_share)
        power = self._bin_power(band_power, tonal)  # [B, T, bins]
        # Each hop gets its share of the frame's energy, so a loud hop's spectrum does not spill
        # into the quiet hops around it; the time-domain pass below then sharpens the onsets.
        hop_share = (block_gain / block_gain.mean(axis=2, keepdims=True)).reshape(b, -1)[..., None]
        harmonic = np.repeat(power * harmonic_share * comb / tonal, HOPS_PER_FRAME, axis=1) * hop_share
        noise = np.repeat(power * (1 - harmonic_share) / tonal, HOPS_PER_FRAME, axis=1) * hop_share

        rng = np.random.default_rng(seed)
        noise_phase = rng.uniform(0, 2 * np.pi, noise.shape)
        # Harmonic bins keep one phase that advances with the bin frequency, so hops add up to
        # steady sinusoids (sharp spectral peaks) instead of noise.
        bins = np.arange(noise.shape[-1])
        hop_index = np.arange(noise.shape[1])[:, None]
        tonal_phase = rng.uniform(0, 2 * np.pi, bins.shape) + 2 * np.pi * bins * STFT_HOP / N_FFT * hop_index
        spectrum = (INCOHERENT_GAIN * np.sqrt(noise) * np.exp(1j * noise_phase)
                    + COHERENT_GAIN * np.sqrt(harmonic) * np.exp(1j * tonal_phase))
        hops = np.fft.irfft(spectrum, n=N_FFT, axis=-1) * self.window
        # Energy each block should have: the frame's power spread by the block envelope.
        target = self.block_energy_per_power * power.sum(axis=2, keepdims=True) * hop_share.reshape(b, frames, -1)
        audio = self._impose_block_energy(self._overlap_add(hops, decoded_length(frames)), target)
        return np.clip(audio, -1.0, 1.0).astype(np.float32)

    def _bin_power(self, band_power: np.ndarray, tonal: np.ndarray) -> np.ndarray:
        """Per-bin power whose mel analysis gives back `band_power`, shaped within bands by `tonal`.

        Bands are interpolated in the log domain, so a quiet band next to a loud one stays quiet
        (music spans 100 dB across bands), then corrected a few times for the filters' overlap.
        """
        log_target = np.log(band_power + FLOOR)
        log_power = log_target @ self.mel_to_bins.T + np.log(tonal)
        for _ in range(BAND_CORRECTIONS):
            analysed = np.log(np.exp(log_power) @ self.mel + FLOOR)
            log_power += (log_target - analysed) @ self.mel_to_bins.T
        return np.exp(log_power) * self.covered  # bins outside every mel band stay silent

    def _block_energy(self, audio: np.ndarray, frames: int) -> np.ndarray:
        """[B, T, 8] Hann-weighted energies of the 512 samples around each STFT hop centre."""
        start = N_FFT // 2 - ENVELOPE_WINDOW // 2
        windows = np.lib.stride_tricks.sliding_window_view(audio, ENVELOPE_WINDOW, axis=1)
        windows = windows[:, start:start + frames * HOPS_PER_FRAME * STFT_HOP:STFT_HOP]
        energy = np.square(windows) @ self.envelope_window
        return energy.reshape(audio.shape[0], frames, HOPS_PER_FRAME)

    def _impose_block_energy(self, audio: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Scale each 512-sample block around a hop centre to its target energy ([B, T, 8]).

        Measuring what was actually synthesised removes the energy that overlap-add carries from a
        loud frame into a quiet neighbour and keeps onsets in their block; amplitudes change over a
        short ramp to avoid clicks.
        """
        b, frames, _ = target.shape
        actual = self._block_energy(audio, frames) + FLOOR
        # Only corrections beyond a tolerance: the small energy ripple of beating partials is left
        # alone, because modulating it would splatter a loud bass over every band above it.
        error = np.log(target + FLOOR) - np.log(actual)
        error = np.sign(error) * np.maximum(np.abs(error) - ENVELOPE_TOLERANCE, 0.0)
        amplitude = np.exp(error / 2).reshape(b, -1)
        start = (N_FFT - STFT_HOP) // 2
        curve = np.repeat(amplitude, STFT_HOP, axis=1)
        curve = np.pad(curve, ((0, 0), (start + ENVELOPE_RAMP, audio.shape[1] - start - curve.shape[1])), mode="edge")
        running = np.cumsum(curve, axis=1)  # moving average over the ramp length
        return audio * (running[:, ENVELOPE_RAMP:] - running[:, :-ENVELOPE_RAMP]) / ENVELOPE_RAMP

    def _overlap_add(self, hops: np.ndarray, length: int) -> np.ndarray:
        """Window-normalised overlap-add; the hop divides the FFT size, so it is 4 shifted adds."""
        b, count, _ = hops.shape
        parts = N_FFT // STFT_HOP
        chunks = hops.reshape(b, count, parts, STFT_HOP)
        window_sq = (self.window**2).reshape(parts, STFT_HOP)
        out = np.zeros((b, count + parts - 1, STFT_HOP))
        norm = np.zeros((count + parts - 1, STFT_HOP))
        for part in range(parts):
            out[:, part:part + count] += chunks[:, :, part]
            norm[part:part + count] += window_sq[part]
        # The window-square sum is 1.5 inside; the floor fades the first and last hop in and out.
        return (out / np.maximum(norm, 0.5)).reshape(b, -1)[:, :length]
