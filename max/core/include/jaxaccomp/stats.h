// Counters a host can show: what went out, what came back, and what was refused and why.
#pragma once

#include <cstdint>

namespace jaxaccomp {

struct Stats {
  std::int64_t batches_sent = 0, chunks_sent = 0, bytes_sent = 0;
  std::int64_t chunks_received = 0;   // reply chunks written into the store
  std::int64_t chunks_late = 0;       // written, but for a batch older than the newest sent
  std::int64_t chunks_stale = 0;      // refused: batch unknown, too old or from before a reset
  std::int64_t chunks_duplicate = 0;  // refused: that chunk was already written
  std::int64_t chunks_misfit = 0;     // refused: does not fit its batch's window
  std::int64_t batches_complete = 0, batches_incomplete = 0;
  std::int64_t batches_dropped = 0;   // the server said /batch_dropped (it was busy)
  std::int64_t malformed = 0;         // datagrams that were not valid protocol messages
  double last_rtt_ms = 0.0;           // last batch: sent -> every reply chunk written
  double mean_rtt_ms = 0.0;
};

}  // namespace jaxaccomp
