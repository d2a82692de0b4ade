// The core's SampleStore over Pd arrays named <prefix>-<stem>, one per stem.
#pragma once

#include <m_pd.h>

#include <string>
#include <vector>

#include "jaxaccomp/sample_store.h"

class PdArrayStore : public jaxaccomp::SampleStore {
 public:
  // Looks the arrays up now (they may be recreated between calls); a missing one has no frames.
  PdArrayStore(const std::string& prefix, const std::vector<std::string>& stems);

  int channels() const override { return static_cast<int>(words_.size()); }
  std::int64_t frames() const override { return frames_; }
  float get(int channel, std::int64_t frame) const override { return words_[channel][frame].w_float; }
  void set(int channel, std::int64_t frame, float value) override { words_[channel][frame].w_float = value; }

  t_word* words(int channel) const { return words_[channel]; }  // nullptr for a missing array
  // The first array that is missing or not a float array, or "" when all are there.
  const std::string& missing() const { return missing_; }
  void redraw();  // after writing: show the new audio in open array views
  void use_in_dsp();

 private:
  std::vector<t_garray*> arrays_;
  std::vector<t_word*> words_;
  std::int64_t frames_ = 0;
  std::string missing_;
};

std::string array_name(const std::string& prefix, const std::string& stem);
