// The multi_track protocol's messages (docs/protocol.md, "Client to server", "Server to client") plus our server's
// extensions (/hello, /stats, blob audio, int64 positions): control datagrams to build, and the
// server's datagrams read into typed events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "jaxaccomp/osc.h"
#include "jaxaccomp/upstream.h"

namespace jaxaccomp {

namespace messages {
osc::Bytes update_r(double r);
osc::Bytes w(int w);
osc::Bytes update_fade(double fade_ratio);
osc::Bytes update_package_size(int size);
osc::Bytes predict_instruments(const std::vector<bool>& flags);
osc::Bytes verbose(bool on);
osc::Bytes load_model();
osc::Bytes reset();
osc::Bytes print();
osc::Bytes hello();
osc::Bytes stats();
osc::Bytes packet_test(const std::vector<float>& samples, Encoding encoding);
}  // namespace messages

// `/<stem> ,iii[h] f...|b`: batch id, chunk index, chunks of this stem, [position of samples[0]].
struct ReplyChunk {
  std::string stem;
  std::int32_t batch_id = 0, index = 0, total = 0;
  std::optional<std::int64_t> position;
  std::vector<float> samples;
};
struct Ready {};
struct ServerPredicted {};
struct BatchDropped {
  std::int32_t batch_id = 0;
};
struct HelloReply {
  std::string server;
  int protocol = 0, sample_rate = 0;
  std::int64_t context_samples = 0;
  std::vector<std::string> capabilities;
  bool has(const std::string& capability) const;
};
struct StatsReply {
  std::vector<std::pair<std::string, double>> values;
};
// `/busy ,s` (our extension): the server streams with another client and ignores this one.
struct Busy {
  std::string reason;
};
struct PacketTestResponse {
  std::int32_t count = 0;
  std::size_t samples = 0;
};

using ServerEvent = std::variant<ReplyChunk, Ready, ServerPredicted, BatchDropped, HelloReply, StatsReply,
                                 Busy, PacketTestResponse>;

// The events of one datagram from the server; osc::Error (one line) for anything malformed.
std::vector<ServerEvent> read_server_datagram(const std::uint8_t* data, std::size_t size);

}  // namespace jaxaccomp
