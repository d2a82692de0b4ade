#include "jaxaccomp/placement.h"

#include "check.h"

using namespace jaxaccomp;

namespace {

constexpr std::int64_t kLength = 1000, kFade = 100, kPacket = 300;  // 4 chunks: 300, 300, 300, 100

ReplyChunk chunk(std::int32_t batch, std::int32_t index, float value, std::optional<std::int64_t> position = {}) {
  const std::int64_t n = std::min(kPacket, kLength - index * kPacket);
  return ReplyChunk{"bass", batch, index, 4, position, std::vector<float>(static_cast<std::size_t>(n), value)};
}

struct Fixture {
  Stats stats;
  ReplyPlacer placer{stats};
  PlanarStore store{1, 5000};
  std::vector<std::string> notes;

  void begin(std::int32_t id, std::int64_t write_start) {
    placer.begin(BatchPlan{id, write_start, kLength, kFade, {0}, Clock::now()}, notes);
  }
  ReplyPlacer::Outcome place(const ReplyChunk& c, bool ramped = false) {
    return placer.place(c, 0, store, ramped, Clock::now(), notes);
  }
};

}  // namespace

TEST(the_lead_in_is_one_linear_crossfade) {
  PlanarStore store(1, 10);
  for (int k = 0; k < 10; ++k) store.set(0, k, 1.0f);
  const std::vector<float> fresh(10, 3.0f);
  write_reply(store, 0, 0, 0, fresh.data(), 10, 5, false);
  for (int k = 0; k < 5; ++k) CHECK_NEAR(store.get(0, k), 1.0f + 2.0f * k / 4.0f, 1e-6);  // old (1-t) + new t
  for (int k = 5; k < 10; ++k) CHECK_EQ(store.get(0, k), 3.0f);
  // A server that ramped already: the received samples are new * t, and are not ramped again.
  for (int k = 0; k < 10; ++k) store.set(0, k, 1.0f);
  std::vector<float> ramped = fresh;
  for (int k = 0; k < 5; ++k) ramped[k] *= k / 4.0f;
  write_reply(store, 0, 0, 0, ramped.data(), 10, 5, true);
  for (int k = 0; k < 5; ++k) CHECK_NEAR(store.get(0, k), 1.0f + 2.0f * k / 4.0f, 1e-6);
}

TEST(chunks_land_by_position_whatever_their_order_and_without_chunk_0) {
  Fixture f;
  f.begin(1, 2000);
  CHECK(f.place(chunk(1, 3, 4.0f)) == ReplyPlacer::Outcome::placed);  // the short last chunk first
  CHECK(f.place(chunk(1, 1, 2.0f)) == ReplyPlacer::Outcome::placed);
  CHECK(f.place(chunk(1, 2, 3.0f)) == ReplyPlacer::Outcome::placed);  // chunk 0 never comes
  CHECK_EQ(f.store.get(0, 2000 + 299), 0.0f);
  CHECK_EQ(f.store.get(0, 2000 + 300), 2.0f);
  CHECK_EQ(f.store.get(0, 2000 + 899), 3.0f);
  CHECK_EQ(f.store.get(0, 2000 + 900), 4.0f);
  CHECK_EQ(f.store.get(0, 2000 + 999), 4.0f);
  CHECK_EQ(f.store.get(0, 3000), 0.0f);
  CHECK_EQ(f.stats.batches_complete, 0);
  f.begin(2, 3000);
  f.begin(3, 4000);  // batch 1 leaves the window: reported with what was missing
  CHECK_EQ(f.stats.batches_incomplete, 1);
  CHECK(f.notes.size() == 1 && f.notes[0].find("3/4 chunks") != std::string::npos);
}

TEST(an_explicit_position_wins_over_the_index) {
  Fixture f;
  f.begin(1, 2000);
  ReplyChunk c = chunk(1, 0, 5.0f, 2000 + 300);  // says index 0 but carries the position of chunk 1
  CHECK(f.place(c) == ReplyPlacer::Outcome::placed);
  CHECK_EQ(f.store.get(0, 2300), 5.0f);
  CHECK_EQ(f.store.get(0, 2000), 0.0f);
}

TEST(stale_late_duplicate_and_misfit_chunks) {
  Fixture f;
  f.begin(7, 1000);
  f.begin(8, 2000);
  CHECK(f.place(chunk(7, 0, 1.0f)) == ReplyPlacer::Outcome::late);  // the previous batch still lands
  CHECK_EQ(f.store.get(0, 1000 + kFade), 1.0f);
  CHECK(f.place(chunk(7, 0, 9.0f)) == ReplyPlacer::Outcome::duplicate);  // would fade twice
  CHECK_EQ(f.store.get(0, 1000 + kFade), 1.0f);
  CHECK(f.place(chunk(6, 0, 9.0f)) == ReplyPlacer::Outcome::stale);
  ReplyChunk wrong_size = chunk(8, 1, 1.0f);
  wrong_size.samples.resize(200);  // a server with another packet size and this total cannot fill 1000
  CHECK(f.place(wrong_size) == ReplyPlacer::Outcome::misfit);
  CHECK(f.place(chunk(8, 0, 1.0f, 2000 + 900)) == ReplyPlacer::Outcome::misfit);  // runs past the reply
  CHECK_EQ(f.stats.chunks_late, 1);
  CHECK_EQ(f.stats.chunks_duplicate, 1);
  CHECK_EQ(f.stats.chunks_stale, 1);
  CHECK_EQ(f.stats.chunks_misfit, 2);
  CHECK(f.notes.size() == 2 && f.notes[0].find("refused") != std::string::npos);
  std::vector<std::string> notes;
  f.placer.forget(notes);  // a reset: nothing sent before it is taken any more
  CHECK(f.place(chunk(8, 2, 1.0f)) == ReplyPlacer::Outcome::stale);
}

TEST(a_complete_batch_counts_once_with_its_round_trip) {
  Fixture f;
  f.begin(1, 0);
  for (int k = 0; k < 4; ++k) f.place(chunk(1, k, 1.0f));
  CHECK_EQ(f.stats.batches_complete, 1);
  CHECK(f.stats.last_rtt_ms >= 0.0);
  f.placer.dropped(2);
  f.begin(2, 1000);
  f.placer.dropped(2);  // the server skipped it: no missing-chunk report later
  f.begin(3, 2000);
  f.begin(4, 3000);
  CHECK_EQ(f.stats.batches_incomplete, 0);
}
