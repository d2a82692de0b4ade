#include "jaxaccomp/protocol.h"

#include "check.h"

using namespace jaxaccomp;

namespace {

std::vector<ServerEvent> read(const osc::Bytes& b) { return read_server_datagram(b.data(), b.size()); }

}  // namespace

TEST(control_messages_use_the_reference_types) {
  CHECK(osc::parse(messages::w(-1).data(), messages::w(-1).size())[0].tags() == "d");
  const auto flags = messages::predict_instruments({true, false, false, true});
  const auto m = osc::parse(flags.data(), flags.size())[0];
  CHECK(m.tags() == "iiii" && m.args[0].integer == 1 && m.args[3].integer == 1 && m.args[1].integer == 0);
  const auto size = messages::update_package_size(1024);
  CHECK(osc::parse(size.data(), size.size())[0].tags() == "i");
}

TEST(reply_chunks_as_float_lists_blobs_and_with_positions) {
  const float samples[3] = {0.1f, 0.2f, 0.3f};
  for (int variant = 0; variant < 3; ++variant) {
    osc::Writer w("/bass");
    w.i(4).i(1).i(3);
    if (variant == 2) w.h(123456789012);
    if (variant == 0) w.floats(samples, 3);
    else w.float_blob(samples, 3);
    const auto events = read(w.bytes());
    const auto& chunk = std::get<ReplyChunk>(events.at(0));
    CHECK(chunk.stem == "bass" && chunk.batch_id == 4 && chunk.index == 1 && chunk.total == 3);
    CHECK(chunk.samples == std::vector<float>(samples, samples + 3));
    CHECK(chunk.position.has_value() == (variant == 2));
  }
}

TEST(server_messages_become_events) {
  CHECK(std::holds_alternative<Ready>(read(osc::Writer("/ready").T().bytes()).at(0)));
  CHECK(std::holds_alternative<ServerPredicted>(read(osc::Writer("/server_predicted").T().bytes()).at(0)));
  CHECK_EQ(std::get<BatchDropped>(read(osc::Writer("/batch_dropped").i(12).bytes()).at(0)).batch_id, 12);
  const auto hello = std::get<HelloReply>(
      read(osc::Writer("/hello_reply").s("jaxaccomp").i(1).i(44100).i(264600).s("blob").s("stats").bytes()).at(0));
  CHECK(hello.server == "jaxaccomp" && hello.sample_rate == 44100 && hello.context_samples == 264600);
  CHECK(hello.has("blob") && !hello.has("position"));
  const auto stats = std::get<StatsReply>(read(osc::Writer("/stats_reply").s("infer_ms").d(812.0).bytes()).at(0));
  CHECK(stats.values.size() == 1 && stats.values[0].first == "infer_ms" && stats.values[0].second == 812.0);
  CHECK(std::get<Busy>(read(osc::Writer("/busy").s("a browser tab is streaming").bytes()).at(0)).reason ==
        "a browser tab is streaming");
}

TEST(wrong_shapes_are_errors) {
  const osc::Bytes bad[] = {osc::Writer("/bass").i(1).i(0).bytes(),                 // no total, no samples
                            osc::Writer("/bass").i(1).i(3).i(3).f(0.0f).bytes(),     // index beyond total
                            osc::Writer("/bass").i(1).i(0).i(1).bytes(),             // no samples
                            osc::Writer("/bass").i(1).i(0).i(1).d(0.5).bytes(),      // a double sample
                            osc::Writer("/batch_dropped").f(1.0f).bytes(),
                            osc::Writer("/hello_reply").s("x").bytes(),
                            osc::Writer("/busy").i(1).bytes()};
  for (const auto& b : bad) {
    const std::string what = CHECK_THROWS(osc::Error, read(b));
    CHECK(what.find('\n') == std::string::npos);
  }
}
