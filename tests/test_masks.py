import pytest

from jaxaccomp.diffusion.masks import frame_aligned_masks, timeline_masks

# docs/model.md, "Look-ahead masks": (r, w) -> (context zero-start column, first generated column).
REFERENCE_TABLE = {
    (0.125, -1): (64, 56), (0.125, 0): (56, 56), (0.125, 1): (48, 56),
    (0.25, -1): (64, 48), (0.25, 0): (48, 48), (0.25, 1): (32, 48),
}


@pytest.mark.parametrize("step, expected", REFERENCE_TABLE.items())
def test_frame_aligned_masks_reproduce_the_reference_table(step, expected):
    assert frame_aligned_masks(*step) == expected


@pytest.mark.parametrize("r, w", [(0.1, 0), (0.5, 1), (1.0, 0), (0.25, 2), (0.0, -1), (1 / 3, -1)])
def test_invalid_steps_name_the_valid_choices(r, w):
    with pytest.raises(ValueError, match=r"w must be -1, 0 or 1|r must be in \(0, 1\]|\(w\+2\)\*r must be at most 1|not a whole number of frames"):
        frame_aligned_masks(r, w)


def test_whole_window_generation_is_valid():
    assert frame_aligned_masks(1.0, -1) == (64, 0)


POSSIBLE_STEPS = [(r, w) for r in (1 / 16, 1 / 8, 1 / 4, 1 / 2) for w in (-1, 0, 1) if (w + 2) * r <= 1]


@pytest.mark.parametrize("r, w", POSSIBLE_STEPS)
def test_timeline_masks_agree_with_the_frame_aligned_form(r, w):
    hop, width = 4096, 64
    window = width * hop
    step = int(r * window)
    for window_start in (0, 7 * hop, 123 * hop):
        playback = window_start + window - (w + 1) * step
        write_start = playback + w * step
        got = timeline_masks(window_start, playback, write_start, write_start + step)
        assert got == frame_aligned_masks(r, w)


def test_timeline_masks_serve_steps_that_are_not_whole_frames():
    # The reference external's default: T = 264600, r = 0.25, so steps of 66150 samples (16.15 frames).
    hop = 4096
    step = 66150
    window_start = 1000
    playback = window_start + 64 * hop - 2 * step  # w = 1: the write window ends at the window's end
    write_start = playback + step
    context_end, target_start = timeline_masks(window_start, playback, write_start, write_start + step)
    assert context_end == (64 * hop - 2 * step) // hop == 31  # column 31 is partly in the future
    assert target_start == (64 * hop - step) // hop == 47  # column 47 is touched by the write window
    assert window_start + context_end * hop <= playback < window_start + (context_end + 1) * hop
    assert window_start + target_start * hop <= write_start < window_start + (target_start + 1) * hop


def test_timeline_masks_refuse_positions_outside_the_window():
    with pytest.raises(ValueError, match="outside the window"):
        timeline_masks(0, 64 * 4096 + 1, 0, 10)
    with pytest.raises(ValueError, match="not inside the window"):
        timeline_masks(0, 100, 64 * 4096 - 10, 64 * 4096 + 10)
