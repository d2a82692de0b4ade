#include "jaxaccomp/stop_gate.h"

#include <cmath>
#include <vector>

#include "check.h"

using jaxaccomp::StopGate;

namespace {

constexpr double kRate = 44100.0;

// Gains for `seconds` of a 220 Hz tone at `db` dBFS (silence when `silent`), continuing `gate`.
std::vector<float> feed(StopGate& gate, double seconds, double db, bool silent = false) {
  std::vector<float> gains;
  const double amplitude = silent ? 0.0 : std::pow(10.0, db / 20.0);
  for (int i = 0; i < static_cast<int>(seconds * kRate); ++i)
    gains.push_back(gate.next(static_cast<float>(amplitude * std::sin(2 * M_PI * 220 * i / kRate))));
  return gains;
}

bool all_equal(const std::vector<float>& v, std::size_t from, std::size_t to, float value) {
  for (std::size_t i = from; i < to && i < v.size(); ++i)
    if (v[i] != value) return false;
  return true;
}

}  // namespace

TEST(it_closes_after_the_band_stops_and_opens_when_it_returns) {
  StopGate gate(kRate);
  const auto playing = feed(gate, 2.0, -12);
  CHECK(all_equal(playing, 2 * StopGate::kBlock, playing.size(), 1.0f));
  const auto stopped = feed(gate, 1.0, 0, true);
  CHECK(all_equal(stopped, 0, static_cast<std::size_t>(StopGate::kHoldS * kRate), 1.0f));  // not before the hold
  CHECK(all_equal(stopped, static_cast<std::size_t>((StopGate::kHoldS + StopGate::kReleaseS) * kRate) +
                               2 * StopGate::kBlock, stopped.size(), 0.0f));
  const auto back = feed(gate, 0.5, -12);
  CHECK(all_equal(back, 2 * StopGate::kBlock, back.size(), 1.0f));
}

TEST(a_quieter_band_turns_it_down_three_db_per_db_beyond_six_and_a_reset_closes_it) {
  StopGate gate(kRate);
  feed(gate, 1.0, -6);
  const auto a_little = feed(gate, 1.0, -6 - StopGate::kFollowDb + 1);  // within the allowance
  CHECK(all_equal(a_little, 0, a_little.size(), 1.0f));
  const auto quiet = feed(gate, 1.0, -6 - 20.0);  // 20 dB down: the part 3 x 14 dB down
  const double expected = std::pow(10.0, -StopGate::kFollowSlope * (20.0 - StopGate::kFollowDb) / 20.0);
  const std::size_t settled = static_cast<std::size_t>((StopGate::kHoldS + StopGate::kReleaseS) * kRate) +
                              2 * StopGate::kBlock;
  CHECK(std::abs(quiet[settled] / expected - 1.0) < 0.05 && std::abs(quiet.back() / expected - 1.0) < 0.05);
  gate.reset();
  CHECK_EQ(gate.next(0.5f), 0.0f);
}

TEST(a_stream_silent_from_the_start_stays_closed) {
  StopGate gate(48000.0);
  const auto gains = feed(gate, 1.0, -90);  // below the absolute floor
  CHECK(all_equal(gains, 0, gains.size(), 0.0f));
}
