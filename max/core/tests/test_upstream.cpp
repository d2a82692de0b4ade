#include "jaxaccomp/upstream.h"

#include "check.h"
#include "jaxaccomp/protocol.h"

using namespace jaxaccomp;

TEST(datagram_sizes_match_the_protocol_notes) {
  // docs/protocol.md, "Packet geometry": 22,080 bytes at N = 4410, 51,232 at 10240.
  CHECK_EQ(audio_datagram_size("/context", 4410, Encoding::floats, false), 22080u);
  CHECK_EQ(audio_datagram_size("/context", 10240, Encoding::floats, false), 51232u);
  CHECK_EQ(audio_datagram_size("/context", 4410, Encoding::blob, false), 12u + 8 + 12 + 4 + 4 * 4410);
  const std::vector<float> block(4410, 0.5f);
  for (Encoding e : {Encoding::floats, Encoding::blob})
    for (bool position : {false, true}) {
      const std::optional<std::int64_t> at = position ? std::optional<std::int64_t>(5) : std::nullopt;
      const auto datagrams = context_datagrams(1, block, 4410, e, at);
      CHECK_EQ(datagrams[0].size(), audio_datagram_size("/context", 4410, e, position));
    }
}

TEST(the_largest_packet_fits_and_one_more_does_not) {
  for (std::size_t limit : {kMacDatagramLimit, kMaxUdpPayload})
    for (Encoding e : {Encoding::floats, Encoding::blob}) {
      const int n = max_packet_size("/guitar", limit, e, true);
      CHECK(audio_datagram_size("/guitar", static_cast<std::size_t>(n), e, true) <= limit);
      CHECK(audio_datagram_size("/guitar", static_cast<std::size_t>(n) + 1, e, true) > limit);
    }
  CHECK_EQ(max_packet_size("/context", kMaxUdpPayload, Encoding::floats, false), 13095);  // the ~13,090 ceiling
}

TEST(the_context_is_the_sum_of_the_unpredicted_stems) {
  PlanarStore store(3, 10);
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 10; ++k) store.set(c, k, static_cast<float>((c + 1) * 100 + k));
  const auto block = mix_context(store, {false, true, false}, 8, 12);  // runs past the end
  CHECK(block == (std::vector<float>{108 + 308, 109 + 309, 0, 0}));
  CHECK(mix_context(store, {false, false, false}, -2, 1) == (std::vector<float>{0, 0, 100 + 200 + 300}));
}

TEST(chunks_carry_offsets_totals_and_positions) {
  std::vector<float> block(1000);
  for (std::size_t k = 0; k < block.size(); ++k) block[k] = static_cast<float>(k);
  const auto datagrams = context_datagrams(9, block, 300, Encoding::blob, 5000);
  CHECK_EQ(datagrams.size(), 4u);
  std::vector<float> joined;
  for (std::size_t k = 0; k < datagrams.size(); ++k) {
    const auto m = osc::parse(datagrams[k].data(), datagrams[k].size())[0];
    CHECK(m.address == "/context" && m.tags() == "iiihb");
    CHECK_EQ(m.args[0].integer, 9);
    CHECK_EQ(m.args[1].integer, static_cast<std::int64_t>(300 * k));
    CHECK_EQ(m.args[2].integer, 4);
    CHECK_EQ(m.args[3].integer, static_cast<std::int64_t>(5000 + 300 * k));
    const auto samples = osc::blob_floats(m.args[4].blob);
    joined.insert(joined.end(), samples.begin(), samples.end());
  }
  CHECK(joined == block);
}
