// The multichannel audio the client reads its context from and writes predictions into: one
// channel per stem. Hosts adapt their own storage (Max buffer~, Pd arrays); the core only calls
// these from the host's thread.
#pragma once

#include <cstdint>
#include <vector>

namespace jaxaccomp {

class SampleStore {
 public:
  virtual ~SampleStore() = default;
  virtual int channels() const = 0;
  virtual std::int64_t frames() const = 0;
  virtual float get(int channel, std::int64_t frame) const = 0;
  virtual void set(int channel, std::int64_t frame, float value) = 0;
};

// A view of interleaved frames (a Max buffer~ between lock and unlock, or a test's vector).
class InterleavedStore : public SampleStore {
 public:
  InterleavedStore(float* samples, int channels, std::int64_t frames)
      : samples_(samples), channels_(channels), frames_(frames) {}
  int channels() const override { return channels_; }
  std::int64_t frames() const override { return frames_; }
  float get(int channel, std::int64_t frame) const override { return samples_[frame * channels_ + channel]; }
  void set(int channel, std::int64_t frame, float value) override { samples_[frame * channels_ + channel] = value; }

 private:
  float* samples_;
  int channels_;
  std::int64_t frames_;
};

// Owns its samples: planar, one vector per channel (tests).
class PlanarStore : public SampleStore {
 public:
  PlanarStore(int channels, std::int64_t frames)
      : planes_(static_cast<std::size_t>(channels), std::vector<float>(static_cast<std::size_t>(frames))) {}
  int channels() const override { return static_cast<int>(planes_.size()); }
  std::int64_t frames() const override { return planes_.empty() ? 0 : static_cast<std::int64_t>(planes_[0].size()); }
  float get(int channel, std::int64_t frame) const override { return planes_[channel][frame]; }
  void set(int channel, std::int64_t frame, float value) override { planes_[channel][frame] = value; }

 private:
  std::vector<std::vector<float>> planes_;
};

}  // namespace jaxaccomp
