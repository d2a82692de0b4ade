// Where reply audio goes. Every batch's write origin is recorded when the batch is sent, keyed by
// its id, and every chunk is placed on its own: by its absolute position when it carries one,
// otherwise by its index and length. Nothing depends on chunk 0 arriving or on the server's
// packet size (the reference external's bugs 1-3). The lead-in gets one linear crossfade.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "jaxaccomp/protocol.h"
#include "jaxaccomp/sample_store.h"
#include "jaxaccomp/stats.h"

namespace jaxaccomp {

using Clock = std::chrono::steady_clock;

// Writes reply samples [offset, offset + n) of a reply that starts at `write_start`. The first
// `fade` samples blend with what the store holds: old (1 - t) + new t, t = k / (fade - 1) as the
// servers' ramp; when `ramped` the server already multiplied the new samples by t.
void write_reply(SampleStore& store, int channel, std::int64_t write_start, std::int64_t offset, const float* samples,
                 std::size_t n, std::int64_t fade, bool ramped);

struct BatchPlan {
  std::int32_t id = 0;
  std::int64_t write_start = 0, length = 0, fade = 0;  // the reply covers [write_start, write_start + length)
  std::vector<int> channels;                           // the predicted channels it writes
  Clock::time_point sent_at;
};

class ReplyPlacer {
 public:
  enum class Outcome { placed, late, stale, duplicate, misfit };

  // `kept_batches`: how many of the newest batches still accept replies (2: the current and the
  // one before, like the reference).
  ReplyPlacer(Stats& stats, std::size_t kept_batches = 2) : stats_(stats), kept_(kept_batches) {}

  // A batch went out; the oldest kept one stops accepting replies (reported if incomplete).
  void begin(BatchPlan plan, std::vector<std::string>& notes);
  Outcome place(const ReplyChunk& chunk, int channel, SampleStore& store, bool ramped, Clock::time_point now,
                std::vector<std::string>& notes);
  // The server skipped this batch: no reply will come, so none is reported missing.
  void dropped(std::int32_t batch_id);
  // A reset: no batch sent so far accepts replies any more.
  void forget(std::vector<std::string>& notes);
  void keep(std::size_t batches) { kept_ = batches; }
  std::int32_t newest() const { return batches_.empty() ? 0 : batches_.back().plan.id; }

 private:
  struct Received {
    std::int32_t total = 0;  // chunks of this stem's reply; 0 until one arrived
    std::vector<bool> chunks;
    std::int32_t count = 0;
  };
  struct Batch {
    BatchPlan plan;
    std::map<int, Received> received;  // by channel
    bool complete = false, dropped = false;
  };

  Batch* find(std::int32_t id);
  void retire(const Batch& batch, std::vector<std::string>& notes);
  static bool offset_of(const ReplyChunk& chunk, const BatchPlan& plan, std::int64_t& offset, std::string& why);

  Stats& stats_;
  std::size_t kept_;
  std::deque<Batch> batches_;
};

}  // namespace jaxaccomp
