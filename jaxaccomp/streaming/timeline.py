"""The step planner: where one streaming step reads, generates, decodes and writes, in absolute samples.

Sample 0 is the first sample of the stream. Latent column c covers samples [c hop, (c+1) hop) of
that timeline: the grid is anchored to the stream, never to the step, so a step that is not a whole
number of columns (the Max external's default 66150 samples) is served exactly and only the number
of generated columns varies from step to step. The reference server instead shifts its audio by
66150 samples and its latents by 16 columns (65536 samples), which misplaces the known target by
614 samples per step and writes its output about 41 ms late (docs/reference.md, departure 1).

One step, after the client has delivered audio up to the playback position P (exclusive):
  content   [W0, W1) = [P + w step, P + (w+1) step), the audio the step is for;
  lead-in   [W0 - fade, W0), sent ahead of the content for the client's crossfade;
  window    the latest grid-aligned `width`-column model window that ends at or after W1;
  context   columns wholly before P are visible, the rest is future and masked;
  generated every column from the one holding W0 to the end of the window. Columns wholly before
            W0's keep what earlier steps generated, even under the lead-in: there the lead-in is a
            re-decode of the latents the client's audio came from, so the crossfade blends two
            renderings of the same music rather than two generations, and the model is conditioned
            on all of it (the part of the lead-in in W0's own column is regenerated with it);
  decoded   from `margin` columns before the lead-in to the column holding W1 - 1, because a
            column's synthesis reaches into its neighbours (decoding is not local).

Only the playback position and the content window must lie inside the model window: the lead-in
and the decode margin may reach before it, because they are decoded from columns earlier steps
stored. Everything here is integer arithmetic; the engine does the audio.
"""

from __future__ import annotations

from dataclasses import dataclass

from jaxaccomp.constants import HOP, WINDOW_FRAMES
from jaxaccomp.diffusion.masks import timeline_masks
from jaxaccomp.stream_settings import VALID_W

DECODE_MARGIN = 1  # extra columns decoded before the first needed one (a column's synthesis reaches into the next)


@dataclass(frozen=True)
class StepPlan:
    """One step's positions. Samples and `*_column` fields are absolute; the two mask columns are
    indices into the model window (what `timeline_masks` and the samplers take)."""

    playback: int  # P: the client has delivered audio up to here (exclusive)
    write_start: int  # W0 - fade: the first sample returned
    content_start: int  # W0
    content_end: int  # W1 (exclusive): the last sample returned is W1 - 1
    window_start: int  # first sample of the model window (a multiple of hop, may be negative)
    first_masked: int  # window column from which the context is future (zeroed)
    first_generated: int  # window column from which the target is generated
    decode_start_column: int  # absolute columns decoded, [start, end)
    decode_end_column: int
    hop: int = HOP

    @property
    def window_column(self) -> int:
        """Absolute column of the window's first column."""
        return self.window_start // self.hop

    @property
    def length(self) -> int:
        """Samples returned: the lead-in plus the content."""
        return self.content_end - self.write_start

    @property
    def cut(self) -> int:
        """Offset of `write_start` in the decoded audio (which starts at decode_start_column hop)."""
        return self.write_start - self.decode_start_column * self.hop


def plan_step(playback: int, step: int, w: int, fade: int, width: int = WINDOW_FRAMES, hop: int = HOP,
              margin: int = DECODE_MARGIN) -> StepPlan:
    """The plan of the step at playback position `playback`, or a one-line ValueError if impossible."""
    if w not in VALID_W:
        raise ValueError(f"w must be -1, 0 or 1, got {w}")
    if step < 1:
        raise ValueError(f"the step must be at least one sample, got {step}")
    if fade < 0:
        raise ValueError(f"the fade must not be negative, got {fade} samples")
    if playback < 0:
        raise ValueError(f"the playback position must not be negative (the stream starts at 0), got {playback}")
    content_start = playback + w * step
    content_end = content_start + step
    window_start = -(-content_end // hop) * hop - width * hop
    if min(playback, content_start) < window_start:
        raise ValueError(
            f"a step of {step} samples at w={w} does not fit the model window of {width} columns "
            f"({width * hop} samples): playback at {playback} and content [{content_start}, {content_end}) "
            f"would need {content_end - min(playback, content_start)} samples after grid alignment"
        )
    first_masked, first_generated = timeline_masks(window_start, playback, content_start, content_end, width, hop)
    write_start = content_start - fade
    return StepPlan(
        playback=playback,
        write_start=write_start,
        content_start=content_start,
        content_end=content_end,
        window_start=window_start,
        first_masked=first_masked,
        first_generated=first_generated,
        decode_start_column=write_start // hop - margin,
        decode_end_column=-(-content_end // hop),
        hop=hop,
    )

