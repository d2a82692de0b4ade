// The client against a fake server over loopback: the listener thread, negotiation and placement.
#include "jaxaccomp/client.h"

#include <chrono>
#include <thread>

#include "check.h"

using namespace jaxaccomp;

namespace {

constexpr std::int64_t kT = 8000;  // r 0.25: a step of 2000, w 1, fade 0.01 s = 100 samples at 10 kHz

struct FakeServer {
  UdpSocket socket;
  Endpoint client;

  FakeServer() { socket.bind(0); }

  std::vector<osc::Message> receive_all(int timeout_ms = 200) {
    std::vector<osc::Message> out;
    std::vector<std::uint8_t> buffer(65536);
    while (auto size = socket.receive(buffer.data(), buffer.size(), timeout_ms))
      for (auto& m : osc::parse(buffer.data(), *size)) out.push_back(std::move(m));
    return out;
  }
  void send(const osc::Bytes& datagram) { socket.send_to(client, datagram.data(), datagram.size()); }
};

struct Fixture {
  std::vector<std::string> lines;
  std::vector<std::pair<std::string, double>> reports;
  FakeServer server;
  Client client{{"bass", "drums"},
                {[this](Level, const std::string& line) { lines.push_back(line); },
                 [this](const std::string& name, double value) { reports.emplace_back(name, value); }}};
  PlanarStore store{2, 20000};

  Fixture() {
    client.listen(0);
    server.client = resolve("127.0.0.1", client.listening_port());
    client.set_sample_rate(10000);
    client.set_T(kT);
    client.set_fade(0.01);
    client.set_server("127.0.0.1", server.socket.local_port());
    client.set_packet_size(500);
    client.set_predicted({true, false});
    server.receive_all(100);
  }

  // Poll until `done` or a second passed.
  template <typename F>
  bool poll_until(F done) {
    for (int k = 0; k < 100 && !done(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      client.poll(store);
    }
    return done();
  }

  osc::Bytes reply(std::int32_t batch, std::int32_t index, std::int32_t total, float value, std::size_t n) {
    std::vector<float> samples(n, value);
    return osc::Writer("/bass").i(batch).i(index).i(total).floats(samples.data(), n).bytes();
  }
};

}  // namespace

TEST(load_model_pushes_every_setting_then_hello) {
  Fixture f;
  f.client.load_model();
  std::vector<std::string> addresses;
  for (const auto& m : f.server.receive_all()) addresses.push_back(m.address);
  CHECK(addresses == (std::vector<std::string>{"/update_package_size", "/update_r", "/w", "/update_fade",
                                               "/predict_instruments", "/verbose", "/load_model", "/hello"}));
}

TEST(a_restarted_server_gets_the_settings_again) {
  Fixture f;
  f.server.send(osc::Writer("/ready").T().bytes());
  CHECK(f.poll_until([&] { return !f.reports.empty(); }));
  CHECK(f.server.receive_all(100).empty());  // no load_model yet: nothing to repeat
  f.client.load_model();
  f.server.receive_all();
  f.server.send(osc::Writer("/ready").T().bytes());
  CHECK(f.poll_until([&] { return f.reports.size() == 2; }));
  const auto sent = f.server.receive_all();
  CHECK(sent.size() == 8 && sent[0].address == "/update_package_size" && sent[7].address == "/hello");
}

TEST(hello_switches_to_blobs_and_adopts_the_servers_T) {
  Fixture f;
  f.server.send(osc::Writer("/hello_reply").s("jaxaccomp").i(1).i(10000).i(16000).s("blob").s("stats").bytes());
  CHECK(f.poll_until([&] { return f.client.encoding() == Encoding::blob; }));
  CHECK_EQ(f.client.timing().T, 16000);
  f.client.step(4000, f.store);
  const auto sent = f.server.receive_all();
  CHECK(!sent.empty() && sent[0].tags() == "iiib");
}

TEST(a_step_sends_the_mix_and_its_reply_lands_in_the_window) {
  Fixture f;
  for (std::int64_t k = 0; k < 20000; ++k) {
    f.store.set(0, k, 9.0f);  // the stem to predict: overwritten by the reply, never sent
    f.store.set(1, k, static_cast<float>(k));
  }
  CHECK_EQ(f.client.step(2000, f.store), 1);
  const auto sent = f.server.receive_all();
  CHECK_EQ(sent.size(), 4u);  // 2000 samples in chunks of 500
  for (std::size_t k = 0; k < sent.size(); ++k) {
    CHECK(sent[k].address == "/context" && sent[k].args[0].integer == 1 && sent[k].args[2].integer == 4);
    CHECK_EQ(sent[k].args[1].integer, static_cast<std::int64_t>(500 * k));
    CHECK_EQ(sent[k].args[3].number, static_cast<double>(500 * k));  // [0, 2000) of the drums alone
  }
  CHECK_EQ(f.store.get(0, 4000), 0.0f);  // content window [4000, 6000) zeroed
  CHECK_EQ(f.store.get(0, 3999), 9.0f);  // the lead-in keeps the old audio to fade from
  f.client.set_server_ramps_lead_in(false);  // this fake server sends the lead-in as is
  // 2100 samples: 5 chunks of 500 then 100; sent out of order, chunk 2 twice, chunk 0 last.
  for (int index : {4, 2, 1, 2, 3, 0}) f.server.send(f.reply(1, index, 5, 1.0f + index, index == 4 ? 100 : 500));
  CHECK(f.poll_until([&] { return f.client.stats().batches_complete == 1; }));
  CHECK_EQ(f.store.get(0, 3900), 9.0f);                  // fade starts from the old audio
  CHECK_NEAR(f.store.get(0, 3950), 9.0f * (1 - 50 / 99.0f) + 1.0f * 50 / 99.0f, 1e-4);
  CHECK_EQ(f.store.get(0, 4000), 1.0f);                  // chunk 0 covers [3900, 4400)
  CHECK_EQ(f.store.get(0, 4400), 2.0f);
  CHECK_EQ(f.store.get(0, 5900), 5.0f);                  // the short last chunk ends the window
  CHECK_EQ(f.store.get(0, 6000), 9.0f);
  CHECK_EQ(f.client.stats().chunks_duplicate, 1);
  CHECK(f.reports.size() >= 2 && f.reports[0].first == "batch" && f.reports[0].second == 1.0);
}

TEST(skipped_steps_advance_the_batch_id_and_going_back_resets) {
  Fixture f;
  CHECK_EQ(f.client.step(2000, f.store), 1);
  CHECK_EQ(f.client.step(8000, f.store), 4);  // three steps on
  f.server.receive_all();
  CHECK_EQ(f.client.step(2000, f.store), 5);  // a loop: the server's stream restarts
  const auto sent = f.server.receive_all();
  CHECK(!sent.empty() && sent[0].address == "/reset");
  f.server.send(f.reply(4, 0, 5, 1.0f, 500));  // from before the reset: refused
  CHECK(f.poll_until([&] { return f.client.stats().chunks_stale == 1; }));
}

TEST(batch_dropped_and_garbage_are_reported_and_the_listener_survives) {
  Fixture f;
  f.client.step(2000, f.store);
  f.server.send(osc::Writer("/batch_dropped").i(1).bytes());
  const osc::Bytes garbage = {'/', 'x', 0, 0, ',', 'q', 0, 0};
  f.server.send(garbage);
  f.server.send(osc::Writer("/ready").T().bytes());
  CHECK(f.poll_until([&] { return !f.reports.empty(); }));
  CHECK_EQ(f.client.stats().batches_dropped, 1);
  CHECK_EQ(f.client.stats().malformed, 1);
  bool said_dropped = false;
  for (const auto& line : f.lines) said_dropped = said_dropped || line.find("dropped batch 1") != std::string::npos;
  CHECK(said_dropped);
}

TEST(oversized_packets_and_bad_settings_are_refused) {
  Fixture f;
  const std::string what = CHECK_THROWS(std::invalid_argument, f.client.set_packet_size(4410));
  CHECK(what.find("9216 bytes") != std::string::npos && what.find('\n') == std::string::npos);
  CHECK_EQ(f.client.packet_size(), 500);
  f.client.set_max_datagram(kMaxUdpPayload);
  f.client.set_packet_size(4410);
  CHECK_THROWS(std::invalid_argument, f.client.set_packet_size(20000));
  CHECK_THROWS(std::invalid_argument, f.client.set_max_datagram(9216));  // 4410 would no longer fit
  CHECK_THROWS(std::invalid_argument, f.client.set_w(2));
  CHECK_THROWS(std::invalid_argument, f.client.set_r(0.5));  // (w+2) r > 1 at w = 1
  CHECK_THROWS(std::invalid_argument, f.client.set_predicted({true}));
  CHECK_EQ(f.client.timing().r, 0.25);
}

TEST(listen_can_rebind_and_a_busy_port_keeps_the_old_one) {
  Fixture f;
  const int first = f.client.listening_port();
  UdpSocket taken;
  taken.bind(0);
  const std::string what = CHECK_THROWS(std::runtime_error, f.client.listen(taken.local_port()));
  CHECK(what.find("cannot listen on UDP port") != std::string::npos);
  CHECK_EQ(f.client.listening_port(), first);
  f.client.listen(0);
  CHECK(f.client.listening_port() != 0 && f.client.listening_port() != first);
  f.server.client = resolve("127.0.0.1", f.client.listening_port());
  f.server.send(osc::Writer("/ready").T().bytes());
  CHECK(f.poll_until([&] { return !f.reports.empty(); }));
}
