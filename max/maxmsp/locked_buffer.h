// A buffer~'s samples claimed for the length of one call (buffer_locksamples is an in-use claim,
// not mutual exclusion with the audio thread) and seen through the core's InterleavedStore.
#pragma once

#include "ext.h"
#include "ext_buffer.h"

#include <cstdint>

#include "jaxaccomp/sample_store.h"

class LockedBuffer {
 public:
  // Claims the samples if the buffer~ exists and has any; store() is empty otherwise.
  explicit LockedBuffer(t_buffer_ref* ref)
      : buffer_(buffer_ref_getobject(ref)),
        samples_(buffer_ != nullptr ? buffer_locksamples(buffer_) : nullptr),
        store_(samples_, claimed() ? static_cast<int>(buffer_getchannelcount(buffer_)) : 0,
               claimed() ? static_cast<std::int64_t>(buffer_getframecount(buffer_)) : 0) {}
  ~LockedBuffer() {
    if (!claimed()) return;
    if (written_) buffer_setdirty(buffer_);  // redraws waveform~ views
    buffer_unlocksamples(buffer_);
  }
  LockedBuffer(const LockedBuffer&) = delete;
  LockedBuffer& operator=(const LockedBuffer&) = delete;

  bool claimed() const { return samples_ != nullptr; }
  jaxaccomp::InterleavedStore& store() { return store_; }
  double sample_rate() const { return claimed() ? buffer_getsamplerate(buffer_) : 0.0; }
  void mark_written() { written_ = true; }

 private:
  t_buffer_obj* buffer_;
  float* samples_;
  jaxaccomp::InterleavedStore store_;
  bool written_ = false;
};
