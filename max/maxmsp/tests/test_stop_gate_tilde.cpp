// jaxaccomp.stopgate~ through the fake Max: its signals against the core's StopGate (which
// tests/test_max_core.py checks against jaxaccomp.stop_gate sample for sample), and what a patch
// hears: the generated stem silent a quarter of a second after the band stops, back with it.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.h"
#include "fake_max.h"
#include "jaxaccomp/stop_gate.h"

extern "C" void ext_main(void*);

namespace {

constexpr const char* kClass = "jaxaccomp.stopgate~";
constexpr double kRate = 44100;
constexpr long kVector = 64;
using Signals = std::vector<std::vector<double>>;

void* make(const std::vector<fake_max::Arg>& args = {}) {
  static const bool registered = (ext_main(nullptr), true);
  (void)registered;
  return fake_max::create(kClass, args);
}

// Four stems of `seconds`: a steady generated bass (0.5) and, on the other three, a band playing
// noise-like samples for `band_seconds` and silent after.
Signals song(double seconds, double band_seconds) {
  const auto n = static_cast<std::size_t>(std::lround(seconds * kRate / kVector) * kVector);
  const auto band_n = static_cast<std::size_t>(band_seconds * kRate);
  Signals stems(4, std::vector<double>(n, 0.0));
  std::uint32_t state = 12345;
  for (std::size_t i = 0; i < n; ++i) {
    stems[0][i] = 0.5;
    for (int k = 1; k < 4; ++k) {
      state = state * 1664525u + 1013904223u;
      stems[k][i] = i < band_n ? 0.2 * (static_cast<double>(state >> 8) / (1u << 24) - 0.5) : 0.0;
    }
  }
  return stems;
}

// The largest difference between the generated stem `generated` as the object played it and the
// core StopGate's gain at `rate`, keyed by the mix of the other stems, times the stem as played.
double worst_gap(const Signals& in, const Signals& out, std::size_t generated, double rate) {
  jaxaccomp::StopGate reference(rate);
  double worst = 0.0;
  for (std::size_t i = 0; i < in[generated].size(); ++i) {
    double band = 0.0;
    for (std::size_t k = 0; k < in.size(); ++k)
      if (k != generated) band += in[k][i];
    worst = std::fmax(worst, std::fabs(out[generated][i] - in[generated][i] * reference.next(static_cast<float>(band))));
  }
  return worst;
}

// The most any sample of `signal` reaches over [from, to) seconds.
double peak(const std::vector<double>& signal, double from, double to) {
  double most = 0.0;
  for (auto i = static_cast<std::size_t>(from * kRate); i < static_cast<std::size_t>(to * kRate) && i < signal.size(); ++i)
    most = std::fmax(most, std::fabs(signal[i]));
  return most;
}

}  // namespace

TEST(one_signal_inlet_and_outlet_per_stem) {
  void* gate = make();
  CHECK(gate != nullptr);
  CHECK_EQ(fake_max::signal_inlets(gate), 4);
  CHECK_EQ(fake_max::signal_outlets(gate), 4);
  void* two = make({2LL});
  CHECK_EQ(fake_max::signal_inlets(two), 2);
  CHECK_EQ(fake_max::signal_outlets(two), 2);
  fake_max::forget();
  CHECK(make({0LL}) == nullptr);
  CHECK(make({"bass"}) == nullptr);
  CHECK(make({4LL, 4LL}) == nullptr);
  CHECK_EQ(fake_max::errors().size(), std::size_t{3});
  object_free(two);
  object_free(gate);
  fake_max::forget();
}

TEST(the_generated_stem_is_gated_by_the_mix_of_the_others_sample_for_sample) {
  void* gate = make();
  fake_max::send(gate, "predict_instruments", {0LL, 1LL, 0LL, 0LL});  // the drums are generated
  CHECK(fake_max::start_dsp(gate, kRate, kVector));
  Signals in = song(3.0, 2.0);
  std::swap(in[0], in[1]);  // the steady part on channel 1
  const Signals out = fake_max::process(gate, in);

  CHECK(worst_gap(in, out, 1, kRate) < 1e-7);
  for (int k : {0, 2, 3}) CHECK(out[k] == in[k]);  // the band passes as played
  CHECK_NEAR(peak(out[1], 0.5, 2.0), 0.5, 1e-9);   // open while the band plays
  CHECK_EQ(peak(out[1], 2.5, 3.0), 0.0);           // silent a quarter of a second after it stops
  object_free(gate);
}

TEST(stopgate_0_plays_as_written_and_reset_closes_the_gate) {
  void* gate = make();
  fake_max::send(gate, "predict_instruments", {1LL, 0LL, 0LL, 0LL});
  CHECK(fake_max::start_dsp(gate, kRate, kVector));
  const Signals in = song(3.0, 2.0);
  fake_max::send(gate, "stopgate", {0LL});
  CHECK(fake_max::process(gate, in) == in);

  fake_max::send(gate, "stopgate", {1LL});
  const Signals playing = song(1.0, 1.0);
  fake_max::process(gate, playing);  // the gate is open now
  fake_max::send(gate, "reset");
  const Signals after = fake_max::process(gate, playing);
  CHECK_EQ(after[0][0], 0.0);  // closed: it has heard nothing since the reset
  CHECK_NEAR(peak(after[0], 0.1, 1.0), 0.5, 1e-9);  // and opens with the band
  object_free(gate);
}

TEST(switched_on_again_it_knows_the_band_stopped_meanwhile) {
  void* gate = make();
  fake_max::send(gate, "predict_instruments", {1LL, 0LL, 0LL, 0LL});
  CHECK(fake_max::start_dsp(gate, kRate, kVector));
  fake_max::process(gate, song(1.0, 1.0));  // open
  fake_max::send(gate, "stopgate", {0LL});
  const Signals silent_band = song(1.0, 0.0);
  CHECK_NEAR(peak(fake_max::process(gate, silent_band)[0], 0.5, 1.0), 0.5, 1e-9);  // off: plays on
  fake_max::send(gate, "stopgate", {1LL});
  CHECK_EQ(peak(fake_max::process(gate, silent_band)[0], 0.0, 1.0), 0.0);  // on: already closed
  object_free(gate);
}

TEST(the_gate_follows_the_chain_sample_rate) {
  void* gate = make();
  CHECK(fake_max::start_dsp(gate, 48000, kVector));
  const Signals in = song(1.0, 1.0);
  const Signals out = fake_max::process(gate, in);
  CHECK(worst_gap(in, out, 0, 48000) < 1e-7);
  object_free(gate);
}

TEST(a_bad_predict_instruments_is_one_error_and_changes_nothing) {
  void* gate = make();
  fake_max::send(gate, "predict_instruments", {0LL, 0LL, 1LL, 0LL});
  fake_max::forget();
  fake_max::send(gate, "predict_instruments", {1LL, 0LL});
  fake_max::send(gate, "predict_instruments", {"bass", 0LL, 0LL, 0LL});
  CHECK_EQ(fake_max::errors().size(), std::size_t{2});
  CHECK(fake_max::errors()[0].find("one 0/1 number per stem") != std::string::npos);
  CHECK(fake_max::start_dsp(gate, kRate, kVector));
  Signals in = song(3.0, 2.0);
  std::swap(in[0], in[2]);  // the steady part on channel 2, still the generated one
  const Signals out = fake_max::process(gate, in);
  CHECK(out[0] == in[0]);
  CHECK_EQ(peak(out[2], 2.5, 3.0), 0.0);
  object_free(gate);
  fake_max::forget();
}

TEST(every_inlet_and_outlet_says_what_it_is) {
  void* gate = make();
  CHECK(fake_max::assist(gate, true, 0).find("predict_instruments") != std::string::npos);
  CHECK(fake_max::assist(gate, true, 3).find("stem 4") != std::string::npos);
  CHECK(fake_max::assist(gate, false, 1).find("stem 2, silenced") != std::string::npos);
  object_free(gate);
}
