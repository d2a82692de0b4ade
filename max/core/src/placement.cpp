#include "jaxaccomp/placement.h"

#include <sstream>

namespace jaxaccomp {

void write_reply(SampleStore& store, int channel, std::int64_t write_start, std::int64_t offset, const float* samples,
                 std::size_t n, std::int64_t fade, bool ramped) {
  for (std::size_t k = 0; k < n; ++k) {
    const std::int64_t o = offset + static_cast<std::int64_t>(k), frame = write_start + o;
    if (frame < 0 || frame >= store.frames()) continue;
    float value = samples[k];
    if (o < fade) {
      const float t = fade > 1 ? static_cast<float>(o) / static_cast<float>(fade - 1) : 0.0f;
      value = store.get(channel, frame) * (1.0f - t) + (ramped ? value : value * t);
    }
    store.set(channel, frame, value);
  }
}

void ReplyPlacer::begin(BatchPlan plan, std::vector<std::string>& notes) {
  batches_.push_back(Batch{std::move(plan), {}, false, false});
  while (batches_.size() > kept_) {
    retire(batches_.front(), notes);
    batches_.pop_front();
  }
}

void ReplyPlacer::forget(std::vector<std::string>& notes) {
  for (const Batch& batch : batches_) retire(batch, notes);
  batches_.clear();
}

void ReplyPlacer::dropped(std::int32_t batch_id) {
  if (Batch* batch = find(batch_id)) batch->dropped = true;
}

ReplyPlacer::Batch* ReplyPlacer::find(std::int32_t id) {
  for (Batch& batch : batches_)
    if (batch.plan.id == id) return &batch;
  return nullptr;
}

void ReplyPlacer::retire(const Batch& batch, std::vector<std::string>& notes) {
  if (batch.complete || batch.dropped) return;
  ++stats_.batches_incomplete;
  std::ostringstream note;
  note << "batch " << batch.plan.id << " incomplete:";
  for (int channel : batch.plan.channels) {
    auto it = batch.received.find(channel);
    if (it == batch.received.end()) note << " channel " << channel << " no chunks;";
    else note << " channel " << channel << " " << it->second.count << "/" << it->second.total << " chunks;";
  }
  notes.push_back(note.str());
}

bool ReplyPlacer::offset_of(const ReplyChunk& chunk, const BatchPlan& plan, std::int64_t& offset, std::string& why) {
  const auto n = static_cast<std::int64_t>(chunk.samples.size());
  std::ostringstream reason;
  if (chunk.position) {
    offset = *chunk.position - plan.write_start;
  } else if (chunk.index + 1 < chunk.total) {  // a full chunk: its length is the server's packet size
    offset = chunk.index * n;
    if ((plan.length + n - 1) / n != chunk.total)
      reason << chunk.total << " chunks of " << n << " samples cannot hold the " << plan.length << "-sample reply";
  } else {  // the last chunk ends the reply
    offset = plan.length - n;
    if (chunk.index == 0 ? offset != 0 : (offset <= 0 || offset % chunk.index != 0 || offset / chunk.index < n))
      reason << "a last chunk of " << n << " samples at index " << chunk.index << " does not end the " << plan.length
             << "-sample reply";
  }
  if (reason.str().empty() && (offset < 0 || offset + n > plan.length))
    reason << n << " samples at offset " << offset << " fall outside the " << plan.length << "-sample reply";
  why = reason.str();
  return why.empty();
}

ReplyPlacer::Outcome ReplyPlacer::place(const ReplyChunk& chunk, int channel, SampleStore& store, bool ramped,
                                        Clock::time_point now, std::vector<std::string>& notes) {
  Batch* batch = find(chunk.batch_id);
  bool wanted = false;
  if (batch != nullptr)
    for (int c : batch->plan.channels) wanted = wanted || c == channel;
  if (!wanted) {
    ++stats_.chunks_stale;
    return Outcome::stale;
  }
  std::int64_t offset = 0;
  std::string why;
  if (!offset_of(chunk, batch->plan, offset, why)) {
    ++stats_.chunks_misfit;
    notes.push_back("batch " + std::to_string(chunk.batch_id) + " /" + chunk.stem + " chunk " +
                    std::to_string(chunk.index) + " refused: " + why + " (do the server's T, r, fade match?)");
    return Outcome::misfit;
  }
  Received& got = batch->received[channel];
  if (got.total == 0) {
    got.total = chunk.total;
    got.chunks.assign(static_cast<std::size_t>(chunk.total), false);
  }
  if (chunk.total != got.total) {
    ++stats_.chunks_misfit;
    notes.push_back("batch " + std::to_string(chunk.batch_id) + " /" + chunk.stem + ": chunk totals disagree");
    return Outcome::misfit;
  }
  if (got.chunks[static_cast<std::size_t>(chunk.index)]) {
    ++stats_.chunks_duplicate;
    return Outcome::duplicate;
  }
  got.chunks[static_cast<std::size_t>(chunk.index)] = true;
  ++got.count;
  write_reply(store, channel, batch->plan.write_start, offset, chunk.samples.data(), chunk.samples.size(),
              batch->plan.fade, ramped);
  ++stats_.chunks_received;
  const bool late = batch->plan.id != newest();
  if (late) ++stats_.chunks_late;

  bool complete = true;
  for (int c : batch->plan.channels) {
    auto it = batch->received.find(c);
    complete = complete && it != batch->received.end() && it->second.count == it->second.total;
  }
  if (complete && !batch->complete) {
    batch->complete = true;
    ++stats_.batches_complete;
    stats_.last_rtt_ms = std::chrono::duration<double, std::milli>(now - batch->plan.sent_at).count();
    stats_.mean_rtt_ms += (stats_.last_rtt_ms - stats_.mean_rtt_ms) / static_cast<double>(stats_.batches_complete);
  }
  return late ? Outcome::late : Outcome::placed;
}

}  // namespace jaxaccomp
