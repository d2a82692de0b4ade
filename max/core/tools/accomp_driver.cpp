// Streams a song through the client core to a server, step by step, and writes what came back.
//
//   accomp_driver --in song.f32 --channels 4 --out result.f32 --server 127.0.0.1:7000 --listen 8000
//                 [--stems bass,drums,guitar,piano] [--predict bass] [--T 264600 --r 0.25 --w 1
//                 --fade 0.02] [--packet 1024] [--steps N] [--wait-ms 5000] [--extensions 1]
//
// Files are raw little-endian float32, interleaved. After each step it waits (up to --wait-ms) for
// that batch's reply before the next, so a test gets every batch without needing real time. It
// prints one `batch <id> <curr>` line per step and a final `stats ...` line.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "jaxaccomp/client.h"

using namespace jaxaccomp;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);) out.push_back(item);
  return out;
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

int run(std::map<std::string, std::string> args) {
  auto get = [&](const std::string& key, const std::string& fallback = "") {
    auto it = args.find(key);
    if (it != args.end()) return it->second;
    if (fallback.empty()) throw std::invalid_argument("missing --" + key);
    return fallback;
  };
  const std::vector<std::string> stems = split(get("stems", "bass,drums,guitar,piano"), ',');
  const int channels = std::stoi(get("channels", std::to_string(stems.size())));
  std::vector<float> samples = read_floats(get("in"));
  InterleavedStore store(samples.data(), channels, static_cast<std::int64_t>(samples.size()) / channels);

  Client client(stems, {[](Level level, const std::string& line) {
                          std::cerr << (level == Level::error ? "error: " : "") << line << "\n";
                        },
                        nullptr});
  const auto server = split(get("server"), ':');
  client.listen(std::stoi(get("listen")));
  client.set_server(server.at(0), std::stoi(server.at(1)));
  client.set_T(std::stoll(get("T", "264600")));
  client.set_r(std::stod(get("r", "0.25")));
  client.set_w(std::stoi(get("w", "1")));
  client.set_fade(std::stod(get("fade", "0.02")));
  client.set_packet_size(std::stoi(get("packet", std::to_string(Client::kDefaultPacketSize))));
  std::vector<bool> predicted(stems.size(), false);
  for (const std::string& stem : split(get("predict", "bass"), ','))
    for (std::size_t k = 0; k < stems.size(); ++k) predicted[k] = predicted[k] || stems[k] == stem;
  client.set_predicted(predicted);
  const bool extensions = get("extensions", "1") != "0";
  client.set_extensions(extensions);
  client.reset();
  client.load_model();
  const auto wait = std::chrono::milliseconds(std::stoi(get("wait-ms", "5000")));

  auto settle = [&](std::function<bool()> done) {
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!done() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      client.poll(store);
    }
  };
  if (extensions) settle([&] { return client.sends_positions(); });  // the /hello_reply
  const std::int64_t step = client.timing().step();
  const std::int64_t steps = std::stoll(get("steps", std::to_string(store.frames() / step)));
  for (std::int64_t n = 1; n <= steps; ++n) {
    const std::int64_t before = client.stats().batches_complete + client.stats().batches_dropped;
    const std::int32_t id = client.step(n * step, store);
    std::cout << "batch " << id << " " << n * step << std::endl;
    settle([&] { return client.stats().batches_complete + client.stats().batches_dropped > before; });
  }
  const Stats& s = client.stats();
  std::cout << "stats sent " << s.batches_sent << " complete " << s.batches_complete << " incomplete "
            << s.batches_incomplete << " dropped " << s.batches_dropped << " stale " << s.chunks_stale << " misfit "
            << s.chunks_misfit << " encoding " << (client.encoding() == Encoding::blob ? "blob" : "floats")
            << (client.sends_positions() ? "+position" : "") << " T "
            << client.timing().T << " rtt_ms " << s.mean_rtt_ms << std::endl;
  std::ofstream out(get("out"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(samples.data()), static_cast<std::streamsize>(samples.size() * 4));
  return out ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int k = 1; k + 1 < argc; k += 2) {
    if (std::strncmp(argv[k], "--", 2) != 0) {
      std::cerr << "error: expected --option value, got " << argv[k] << "\n";
      return 2;
    }
    args[argv[k] + 2] = argv[k + 1];
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
