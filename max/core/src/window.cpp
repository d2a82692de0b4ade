#include "jaxaccomp/window.h"

#include <sstream>
#include <stdexcept>

namespace jaxaccomp {

void validate(const Timing& t) {
  std::ostringstream why;
  if (t.w < -1 || t.w > 1) why << "w must be -1, 0 or 1, got " << t.w;
  else if (!(t.r > 0.0 && t.r <= 1.0)) why << "r must be in (0, 1], got " << t.r;
  else if ((t.w + 2) * t.r > 1.0)
    why << "(w+2)*r must be at most 1 (the read block, the gap and the write window fit T), got w=" << t.w
        << ", r=" << t.r;
  else if (t.T < 1 || t.step() < 1) why << "T=" << t.T << " and r=" << t.r << " give a step of less than one sample";
  else if (t.fade < 0) why << "the fade must not be negative, got " << t.fade << " samples";
  if (!why.str().empty()) throw std::invalid_argument(why.str());
}

StepWindows step_windows(std::int64_t curr, const Timing& t) {
  const std::int64_t step = t.step();
  const std::int64_t content_start = curr + t.w * step;
  return {curr - step, curr, content_start - t.fade, content_start, content_start + step};
}

std::optional<std::int64_t> StepClock::advance(std::int64_t playhead) {
  const std::int64_t previous = playhead_;
  playhead_ = playhead;
  if (playhead <= previous) return std::nullopt;
  const std::int64_t boundary = playhead / step_ * step_;
  if (boundary > previous) return boundary;
  return std::nullopt;
}

}  // namespace jaxaccomp
