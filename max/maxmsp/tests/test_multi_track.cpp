// jaxaccomp.multi_track through the fake Max: messages in, datagrams out to a UDP socket this test
// owns, replies written into the fake buffer~ when the object's poll clock runs.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "fake_max.h"
#include "jaxaccomp/osc.h"
#include "jaxaccomp/udp.h"

extern "C" void ext_main(void*);

using jaxaccomp::UdpSocket;
using jaxaccomp::osc::Message;

namespace {

constexpr const char* kClass = "jaxaccomp.multi_track";
// T 8000 at 10 kHz, r 0.25, w 1: a step of 2000; `predict 4000` sends [2000, 4000) and the reply
// goes to [5900, 8000): a lead-in of fade 0.01 s = 100 samples, then the content window [6000, 8000).
// Its batch id is 2: ids count the steps the playhead moved since 0.
constexpr double kRate = 10000;
constexpr int kChunk = 500;

struct FakeServer {
  UdpSocket socket;

  FakeServer() { socket.bind(0); }

  std::vector<Message> receive_all(int timeout_ms = 200) {
    std::vector<Message> out;
    std::vector<std::uint8_t> buffer(65536);
    while (auto size = socket.receive(buffer.data(), buffer.size(), timeout_ms))
      for (auto& m : jaxaccomp::osc::parse(buffer.data(), *size)) out.push_back(std::move(m));
    return out;
  }
};

std::vector<std::string> addresses(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(m.address);
  return out;
}

// The last value the object sent out of its outlet under `selector`, or -1.
double last_output(const std::string& selector) {
  double value = -1;
  for (const fake_max::Output& o : fake_max::outputs())
    if (o.selector == selector && !o.values.empty()) value = o.values[0];
  return value;
}

struct Fixture {
  fake_max::Buffer& song = fake_max::make_buffer("song", 4, 20000, kRate);
  FakeServer server;
  void* object = nullptr;
  int listening = 0;

  Fixture() {
    static const bool registered = (ext_main(nullptr), true);
    (void)registered;
    object = fake_max::create(kClass, {"song", "bass", "drums", "guitar", "piano"});
    fake_max::send(object, "listen", {0LL});  // not the default 8000, which another program may hold
    listening = static_cast<int>(last_output("listening"));
    fake_max::send(object, "server", {"127.0.0.1", static_cast<long long>(server.socket.local_port())});
    fake_max::send(object, "T", {8000LL});
    fake_max::send(object, "fade", {0.01});
    fake_max::send(object, "packet_size", {static_cast<long long>(kChunk)});
    fake_max::send(object, "predict_instruments", {1LL, 0LL, 0LL, 0LL});
    server.receive_all(100);
    fake_max::forget();
  }
  ~Fixture() {
    if (object != nullptr) object_free(object);
    fake_max::remove_buffer("song");
    fake_max::forget();
  }

  void fill(int channel, float value) {
    for (std::int64_t frame = 0; frame < song.frames; ++frame) song.at(channel, frame) = value;
  }

  void send_to_object(const jaxaccomp::osc::Bytes& datagram) {
    server.socket.send_to(jaxaccomp::resolve("127.0.0.1", listening), datagram.data(), datagram.size());
  }

  void reply(std::int32_t batch, std::int32_t index, std::int32_t total, float value, std::size_t n) {
    const std::vector<float> samples(n, value);
    send_to_object(jaxaccomp::osc::Writer("/bass").i(batch).i(index).i(total).floats(samples.data(), n).bytes());
  }

  // Runs the clocks as Max's scheduler would until `done`, for at most a second.
  template <typename F>
  bool tick_until(F done) {
    for (int k = 0; k < 100 && !done(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      fake_max::run_clocks();
    }
    return done();
  }
};

}  // namespace

TEST(creation_takes_a_buffer_name_and_symbol_stems) {
  Fixture f;  // registers the class
  CHECK(f.object != nullptr);
  CHECK(f.listening > 0);
  CHECK(fake_max::create(kClass, {}) == nullptr);
  CHECK(fake_max::create(kClass, {"song", "bass", 2LL}) == nullptr);
  CHECK(fake_max::create(kClass, {"song", "ba/ss"}) == nullptr);
  CHECK_EQ(fake_max::errors().size(), std::size_t{3});
}

TEST(the_inlet_and_outlet_say_what_they_take_and_send) {
  Fixture f;
  CHECK(fake_max::assist(f.object, true, 0).find("predict <curr>") != std::string::npos);
  CHECK(fake_max::assist(f.object, false, 0).find("step <r*T>") != std::string::npos);
}

TEST(predict_sends_the_mix_of_the_other_stems_and_silences_the_window) {
  Fixture f;
  f.fill(0, 1.0f);
  f.fill(1, 0.25f);
  f.fill(2, 0.125f);
  f.fill(3, 0.0625f);
  fake_max::send(f.object, "predict", {4000LL});

  const auto got = f.server.receive_all();
  CHECK_EQ(got.size(), std::size_t{4});
  std::size_t samples = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    CHECK(got[k].address == "/context");
    CHECK_EQ(got[k].args[0].integer, 2);                                 // batch id
    CHECK_EQ(got[k].args[1].integer, static_cast<std::int64_t>(k) * kChunk);  // sample offset
    CHECK_EQ(got[k].args[2].integer, 4);                                 // chunks in the batch
    for (std::size_t a = 3; a < got[k].args.size(); ++a, ++samples) CHECK_NEAR(got[k].args[a].number, 0.4375, 1e-6);
  }
  CHECK_EQ(samples, std::size_t{2000});
  CHECK_EQ(f.song.at(0, 5999), 1.0f);  // the lead-in keeps the old audio to crossfade from
  CHECK_EQ(f.song.at(0, 6000), 0.0f);
  CHECK_EQ(f.song.at(0, 7999), 0.0f);
  CHECK_EQ(f.song.at(0, 8000), 1.0f);
  CHECK_EQ(f.song.at(1, 7000), 0.25f);
  CHECK_EQ(f.song.claims, 0);
  CHECK(f.song.dirtied > 0);
  CHECK(fake_max::errors().empty());
}

TEST(a_reply_lands_in_the_buffer_at_the_next_clock_tick) {
  Fixture f;
  f.fill(0, 1.0f);
  fake_max::send(f.object, "predict", {4000LL});
  f.server.receive_all(100);
  const int dirtied = f.song.dirtied;

  for (int k = 0; k < 4; ++k) f.reply(2, k, 5, 0.5f, kChunk);  // 2100 samples: 4 x 500 + 100
  f.reply(2, 4, 5, 0.5f, 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_EQ(f.song.at(0, 7000), 0.0f);  // written by the poll clock only

  CHECK(f.tick_until([] { return last_output("batch") == 2; }));
  for (std::int64_t frame : {6000, 7000, 7999}) CHECK_NEAR(f.song.at(0, frame), 0.5f, 1e-6);
  CHECK_NEAR(f.song.at(0, 5900), 1.5f, 1e-6);  // old audio at full level plus the (server-ramped) lead-in
  CHECK_NEAR(f.song.at(0, 5999), 0.5f, 1e-6);  // old audio faded out
  CHECK_EQ(f.song.at(0, 8000), 1.0f);
  CHECK(f.song.dirtied > dirtied);
  CHECK_EQ(f.song.claims, 0);
  CHECK(last_output("rtt_ms") >= 0);
  CHECK(fake_max::errors().empty());
}

TEST(settings_and_requests_reach_the_server_in_order) {
  Fixture f;
  fake_max::send(f.object, "r", {0.125});
  fake_max::send(f.object, "w", {0LL});
  fake_max::send(f.object, "fade", {0.05});
  fake_max::send(f.object, "packet_size", {512LL});
  fake_max::send(f.object, "verbose", {1LL});
  fake_max::send(f.object, "predict_instruments", {0LL, 1LL, 0LL, 0LL});
  fake_max::send(f.object, "print");
  fake_max::send(f.object, "test_packet");
  fake_max::send(f.object, "reset");
  fake_max::send(f.object, "load_model");

  const auto got = f.server.receive_all();
  CHECK(addresses(got) == (std::vector<std::string>{"/update_r", "/w", "/update_fade", "/update_package_size",
                                                    "/verbose", "/predict_instruments", "/print", "/packet_test",
                                                    "/reset", "/update_package_size", "/update_r", "/w",
                                                    "/update_fade", "/predict_instruments", "/verbose",
                                                    "/load_model", "/hello"}));
  if (got.size() == 17) {
    CHECK_NEAR(got[0].args[0].number, 0.125, 1e-12);
    CHECK_EQ(got[1].args[0].number, 0.0);
    CHECK_EQ(got[3].args[0].integer, 512);
    CHECK_EQ(got[5].args.size(), std::size_t{4});
    CHECK_EQ(got[5].args[1].integer, 1);
    CHECK_EQ(got[7].args.size(), std::size_t{513});  // the size, then that many random floats
  }
  CHECK(fake_max::errors().empty());
}

TEST(a_bad_message_is_one_error_line_and_the_object_goes_on) {
  Fixture f;
  const std::vector<std::pair<std::string, std::vector<fake_max::Arg>>> bad = {
      {"r", {2.0}},
      {"r", {"fast"}},
      {"w", {0.5}},
      {"w", {3LL}},
      {"T", {-5LL}},
      {"fade", {3.0}},
      {"packet_size", {100000LL}},
      {"max_datagram", {-1LL}},
      {"predict_instruments", {1LL, 0LL}},
      {"predict_instruments", {"bass", 0LL, 0LL, 0LL}},
      {"server", {1LL}},
      {"server", {}},
      {"frobnicate", {}},
  };
  for (const auto& [selector, args] : bad) {
    fake_max::forget();
    fake_max::send(f.object, selector, args);
    const auto errors = fake_max::errors();
    if (errors.size() != 1) std::printf("  %s: %zu error lines\n", selector.c_str(), errors.size());
    CHECK_EQ(errors.size(), std::size_t{1});
    CHECK(fake_max::console().size() == errors.size());
  }
  CHECK(f.server.receive_all(100).empty());  // nothing refused went out

  fake_max::forget();
  fake_max::send(f.object, "set_buffer", {"nosuch"});
  fake_max::send(f.object, "predict", {4000LL});
  fake_max::send(f.object, "clear");
  const auto errors = fake_max::errors();
  CHECK_EQ(errors.size(), std::size_t{2});
  if (errors.size() == 2) CHECK(errors[0].find("predict: no buffer~ named nosuch") != std::string::npos);

  fake_max::forget();
  fake_max::send(f.object, "set_buffer", {"song"});
  fake_max::send(f.object, "r", {0.25});
  fake_max::send(f.object, "predict", {4000LL});
  CHECK(addresses(f.server.receive_all()).size() == 5);  // /update_r and the 4 chunks
  CHECK(fake_max::errors().empty());
}

TEST(the_step_is_reported_after_T_and_r) {
  Fixture f;
  fake_max::send(f.object, "r", {0.125});
  CHECK_EQ(last_output("step"), 1000.0);
  fake_max::send(f.object, "T", {16000LL});
  CHECK_EQ(last_output("step"), 2000.0);
  fake_max::forget();
  fake_max::send(f.object, "T", {0LL});
  CHECK_EQ(last_output("step"), -1.0);  // refused: nothing reported
}

TEST(the_step_is_reported_when_the_server_sets_T) {
  Fixture f;
  f.send_to_object(jaxaccomp::osc::Writer("/hello_reply").s("jaxaccomp").i(1).i(10000).i(16000).bytes());
  CHECK(f.tick_until([] { return last_output("step") == 4000.0; }));
}

TEST(clear_silences_only_the_predicted_channels) {
  Fixture f;
  for (int channel = 0; channel < 4; ++channel) f.fill(channel, 1.0f);
  fake_max::send(f.object, "predict_instruments", {0LL, 0LL, 1LL, 0LL});
  const int dirtied = f.song.dirtied;
  fake_max::send(f.object, "clear");
  for (std::int64_t frame : {0, 10000, 19999}) {
    CHECK_EQ(f.song.at(2, frame), 0.0f);
    CHECK_EQ(f.song.at(1, frame), 1.0f);
    CHECK_EQ(f.song.at(3, frame), 1.0f);
  }
  CHECK(f.song.dirtied > dirtied);
  CHECK_EQ(f.song.claims, 0);
}

TEST(stats_come_out_of_the_outlet_and_ask_the_server) {
  Fixture f;
  fake_max::send(f.object, "predict", {4000LL});
  fake_max::send(f.object, "predict", {6000LL});
  f.server.receive_all(100);
  fake_max::send(f.object, "stats");
  CHECK_EQ(last_output("batches_sent"), 2.0);
  CHECK_EQ(last_output("chunks_received"), 0.0);
  CHECK(addresses(f.server.receive_all()) == std::vector<std::string>{"/stats"});
}

TEST(freeing_the_object_stops_its_clock_and_closes_its_port) {
  Fixture f;
  const int clocks = fake_max::live_clocks();
  object_free(f.object);
  f.object = nullptr;
  CHECK_EQ(fake_max::live_clocks(), clocks - 1);
  fake_max::run_clocks();  // nothing left to fire into the freed object
  UdpSocket reuse;
  reuse.bind(f.listening);  // throws if the listener still held it
  CHECK_EQ(reuse.local_port(), f.listening);
}
