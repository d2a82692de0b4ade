#include "jaxaccomp/stop_gate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace jaxaccomp {

namespace {

// Whole blocks (at least 1) closest to `seconds`, halves rounded up (as jaxaccomp.stop_gate).
int blocks_in(double seconds, double sample_rate) {
  return std::max(1, static_cast<int>(seconds * sample_rate / StopGate::kBlock + 0.5));
}

}  // namespace

StopGate::StopGate(double sample_rate)
    : hold_blocks_(blocks_in(kHoldS, sample_rate)),
      reference_blocks_(blocks_in(kReferenceS, sample_rate)),
      release_per_block_(kBlock / (kReleaseS * sample_rate)),
      levels_(static_cast<std::size_t>(blocks_in(kReferenceS, sample_rate)), 0.0) {
  if (!(sample_rate > 0)) throw std::invalid_argument("the stop gate needs a positive sample rate");
}

void StopGate::reset() {
  heard_ = 0;
  position_ = 0;
  squares_ = before_ = latest_ = 0.0;
}

float StopGate::next(float band) {
  const double gain = before_ + (latest_ - before_) * (position_ + 1) / kBlock;
  squares_ += static_cast<double>(band) * band;
  if (++position_ == kBlock) decide();
  return static_cast<float>(gain);
}

void StopGate::decide() {
  const std::size_t size = levels_.size();
  levels_[heard_ % size] = 10.0 * std::log10(squares_ / kBlock + 1e-12);
  ++heard_;
  double recent = -1e300, loudest = -1e300;
  const std::size_t known = std::min<std::size_t>(heard_, size);
  for (std::size_t back = 0; back < known; ++back) {
    const double level = levels_[(heard_ - 1 - back) % size];
    loudest = std::max(loudest, level);
    if (back < static_cast<std::size_t>(hold_blocks_)) recent = std::max(recent, level);
  }
  const bool open = recent > std::max(loudest - kDropDb, kFloorDb);
  const double target =
      open ? std::pow(10.0, -kFollowSlope * std::max(0.0, loudest - recent - kFollowDb) / 20.0) : 0.0;
  before_ = latest_;
  latest_ = target >= latest_ ? target : std::max(target, latest_ - release_per_block_);
  position_ = 0;
  squares_ = 0.0;
}

}  // namespace jaxaccomp
