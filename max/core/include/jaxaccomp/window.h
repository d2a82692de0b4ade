// Step arithmetic for (T, r, w) on the absolute sample timeline of the client's buffer.
//
// A step at playhead `curr` (a multiple of the step size) sends the block [curr - step, curr) and
// gets back the lead-in [W0 - fade, W0) followed by the content window [W0, W1) = [curr + w step,
// curr + (w+1) step) (docs/protocol.md, "What the reference client does per step").
#pragma once

#include <cstdint>
#include <optional>

namespace jaxaccomp {

struct Timing {
  std::int64_t T = 264600;   // context length in samples
  double r = 0.25;           // step ratio
  int w = 1;                 // -1 retrospective, 0 immediate, 1 look-ahead
  std::int64_t fade = 882;   // lead-in samples

  std::int64_t step() const { return static_cast<std::int64_t>(static_cast<double>(T) * r); }
};

// Throws std::invalid_argument with a one-line reason if the server could not serve `timing`:
// w in {-1, 0, 1}, r in (0, 1], (w + 2) r <= 1, a step of at least one sample, fade >= 0.
void validate(const Timing& timing);

struct StepWindows {
  std::int64_t read_start, read_end;        // the block sent: [curr - step, curr)
  std::int64_t write_start;                 // W0 - fade: where the reply's first sample goes
  std::int64_t content_start, content_end;  // [W0, W1)

  std::int64_t reply_length() const { return content_end - write_start; }
};

StepWindows step_windows(std::int64_t curr, const Timing& timing);

// Fires once each time the playhead reaches the next multiple of the step.
class StepClock {
 public:
  explicit StepClock(std::int64_t step) : step_(step) {}
  // The latest step boundary in (previous playhead, playhead], or nothing. A playhead that
  // moved back (a loop or seek) restarts the clock there without firing.
  std::optional<std::int64_t> advance(std::int64_t playhead);
  void restart(std::int64_t playhead) { playhead_ = playhead; }
  std::int64_t step() const { return step_; }

 private:
  std::int64_t step_;
  std::int64_t playhead_ = 0;
};

}  // namespace jaxaccomp
