// Stop with the band, and fall with it: the playback gate on generated parts, keyed by the band's
// own audio.
//
// The same gate as jaxaccomp/stop_gate.py, whose docstring defines it (docs/streaming.md, "Stop
// with the band"); tests/test_max_core.py checks this port against it sample for sample. Per
// 512-sample block of the band: its level in dB; the gate is open while the loudest block of the
// last 0.25 s is above max(the loudest of the last 5 s - 30 dB, -70 dBFS), and then aims at a gain
// 3 dB lower for every dB that block lies more than 6 dB below the loudest; closed, it aims at 0.
// The gain rises to its aim at once and falls at most from 1 to 0 in 0.1 s. Over each block the
// gain ramps to the decision taken after the block before.
#pragma once

#include <cstddef>
#include <vector>

namespace jaxaccomp {

class StopGate {
 public:
  static constexpr int kBlock = 512;            // samples per decision
  static constexpr double kDropDb = 30.0;       // stopped: this far below the recent loudest block
  static constexpr double kFloorDb = -70.0;     // silent whatever the recent level
  static constexpr double kHoldS = 0.25;        // how long the band must stay down
  static constexpr double kReferenceS = 5.0;    // how far back "recent loudest" reaches
  static constexpr double kReleaseS = 0.1;      // fade-out from full level to silence
  static constexpr double kFollowDb = 6.0;      // the band may fall this far before the part follows
  static constexpr double kFollowSlope = 3.0;   // dB the part falls per dB the band falls beyond that

  explicit StopGate(double sample_rate);

  // The gain for the output sample at this timeline position; then `band`, the band's sample at
  // the same position, is heard (it counts from the next block on).
  float next(float band);
  // A new stream (or a jump of the playhead): closed, nothing heard.
  void reset();

 private:
  void decide();

  int hold_blocks_, reference_blocks_;
  double release_per_block_;
  std::vector<double> levels_;  // ring of the last reference_blocks_ block levels (dB)
  std::size_t heard_ = 0;       // blocks heard since the reset
  int position_ = 0;            // sample within the current block
  double squares_ = 0.0;        // sum of the current block's squares
  double before_ = 0.0, latest_ = 0.0;  // the decisions after the last two blocks
};

}  // namespace jaxaccomp
