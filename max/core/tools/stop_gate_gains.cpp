// Reads a band's audio (raw little-endian float32, mono) and writes the stop gate's gain for each of
// its samples (same format), so tests/test_max_core.py can compare the port with jaxaccomp.stop_gate.
//
//   stop_gate_gains <band.f32> <gains.f32> <sample rate>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <vector>

#include "jaxaccomp/stop_gate.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: stop_gate_gains <band.f32> <gains.f32> <sample rate>\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 1;
  }
  jaxaccomp::StopGate gate(std::atof(argv[3]));
  std::vector<float> gains;
  for (float sample; in.read(reinterpret_cast<char*>(&sample), sizeof sample);) gains.push_back(gate.next(sample));
  std::ofstream out(argv[2], std::ios::binary);
  out.write(reinterpret_cast<const char*>(gains.data()), static_cast<std::streamsize>(gains.size() * sizeof(float)));
  return out ? 0 : 1;
}
