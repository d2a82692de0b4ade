// A fake Max for tests: the shim's functions record what an object did (console lines, outlet
// output, buffer~ claims) and let the test play Max's part (create an object, send it messages,
// run its clocks, own the buffer~s). Single-threaded, like the host thread it stands in for.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "ext_obex.h"
#include "z_dsp.h"

namespace fake_max {

using Arg = std::variant<long long, double, std::string>;  // an int, a float or a symbol

struct Line {
  enum Kind { post, warn, error } kind;
  std::string text;
};
struct Output {
  std::string selector;
  std::vector<double> values;
};
struct Buffer {
  int channels = 1;
  std::int64_t frames = 0;
  double sample_rate = 44100.0;
  std::vector<float> samples;  // interleaved
  int claims = 0;              // buffer_locksamples not yet matched by buffer_unlocksamples
  int dirtied = 0;             // buffer_setdirty calls

  float& at(int channel, std::int64_t frame) { return samples[static_cast<std::size_t>(frame * channels + channel)]; }
};

// The console lines and outlet output so far, oldest first; forget() empties both.
const std::vector<Line>& console();
const std::vector<Output>& outputs();
void forget();
std::vector<std::string> errors();  // the error lines' texts

// A buffer~ named `name` (replacing one of that name); the reference stays valid until remove_buffer.
Buffer& make_buffer(const std::string& name, int channels, std::int64_t frames, double sample_rate);
void remove_buffer(const std::string& name);

// Instantiates a registered class as a box with these arguments would; nullptr if its new refused.
void* create(const std::string& class_name, const std::vector<Arg>& args);
// Delivers a message the way Max does: typed arguments converted, an unknown selector or arguments
// that do not fit reported as one error line.
void send(void* object, const std::string& selector, const std::vector<Arg>& args = {});
// Fires every clock that is due (clock_delay'd and not unset), each once: the test's scheduler tick.
void run_clocks();
int live_clocks();  // clocks created and not yet freed

// What the object's assist method says over inlet or outlet `index` ("" if it has none).
std::string assist(void* object, bool inlet, long index);

// Signal objects. The signal inlets the object asked dsp_setup for, and its "signal" outlets.
int signal_inlets(void* object);
int signal_outlets(void* object);
// Compiles the object into a DSP chain as Max does when audio starts: its dsp64 method at this rate
// and vector size, which must call dsp_add64. False (with the reason in the console) if it did not.
bool start_dsp(void* object, double sample_rate, long vector_size);
// Runs the compiled object on one signal per inlet (equal lengths, whole vectors), vector by
// vector, with outlets that never share memory with inlets; returns one signal per outlet.
std::vector<std::vector<double>> process(void* object, const std::vector<std::vector<double>>& ins);

}  // namespace fake_max
