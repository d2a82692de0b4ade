#include "jaxaccomp/protocol.h"

#include <algorithm>

namespace jaxaccomp {

namespace messages {
osc::Bytes update_r(double r) { return osc::Writer("/update_r").d(r).bytes(); }
osc::Bytes w(int w) { return osc::Writer("/w").d(w).bytes(); }
osc::Bytes update_fade(double fade_ratio) { return osc::Writer("/update_fade").d(fade_ratio).bytes(); }
osc::Bytes update_package_size(int size) { return osc::Writer("/update_package_size").i(size).bytes(); }
osc::Bytes verbose(bool on) { return osc::Writer("/verbose").i(on ? 1 : 0).bytes(); }
osc::Bytes load_model() { return osc::Writer("/load_model").bytes(); }
osc::Bytes reset() { return osc::Writer("/reset").i(1).bytes(); }
osc::Bytes print() { return osc::Writer("/print").T().bytes(); }
osc::Bytes hello() { return osc::Writer("/hello").bytes(); }
osc::Bytes stats() { return osc::Writer("/stats").bytes(); }

osc::Bytes predict_instruments(const std::vector<bool>& flags) {
  osc::Writer message("/predict_instruments");
  for (bool flag : flags) message.i(flag ? 1 : 0);
  return message.bytes();
}

osc::Bytes packet_test(const std::vector<float>& samples, Encoding encoding) {
  osc::Writer message("/packet_test");
  message.i(static_cast<std::int32_t>(samples.size()));
  if (encoding == Encoding::blob) message.float_blob(samples.data(), samples.size());
  else message.floats(samples.data(), samples.size());
  return message.bytes();
}
}  // namespace messages

bool HelloReply::has(const std::string& capability) const {
  return std::find(capabilities.begin(), capabilities.end(), capability) != capabilities.end();
}

namespace {

void require(bool ok, const osc::Message& m, const char* expected) {
  if (!ok) throw osc::Error(m.address + " ," + m.tags() + ": expected " + expected);
}

// The float32 samples that end an audio message, from `first` on: N `f` arguments or one blob.
std::vector<float> samples_from(const osc::Message& m, std::size_t first) {
  const std::size_t n = m.args.size() - first;
  if (n == 1 && m.args[first].tag == 'b') return osc::blob_floats(m.args[first].blob);
  std::vector<float> out(n);
  for (std::size_t k = 0; k < n; ++k) {
    require(m.args[first + k].tag == 'f', m, "float samples or one blob");
    out[k] = static_cast<float>(m.args[first + k].number);
  }
  return out;
}

ReplyChunk read_chunk(const osc::Message& m) {
  const std::string tags = m.tags();
  require(tags.rfind("iii", 0) == 0, m, "an audio chunk ,iii[h] then samples");
  ReplyChunk chunk;
  chunk.stem = m.address.substr(1);
  chunk.batch_id = static_cast<std::int32_t>(m.args[0].integer);
  chunk.index = static_cast<std::int32_t>(m.args[1].integer);
  chunk.total = static_cast<std::int32_t>(m.args[2].integer);
  std::size_t first = 3;
  if (tags.size() > 3 && tags[3] == 'h') chunk.position = m.args[first++].integer;
  chunk.samples = samples_from(m, first);
  require(!chunk.samples.empty() && chunk.index >= 0 && chunk.total > chunk.index, m,
          "a chunk index below its total and at least one sample");
  return chunk;
}

ServerEvent read_event(const osc::Message& m) {
  const std::string tags = m.tags();
  if (m.address == "/ready") return Ready{};
  if (m.address == "/server_predicted") return ServerPredicted{};
  if (m.address == "/batch_dropped") {
    require(tags == "i", m, ",i (batch id)");
    return BatchDropped{static_cast<std::int32_t>(m.args[0].integer)};
  }
  if (m.address == "/hello_reply") {
    require(tags.rfind("siii", 0) == 0 && tags.find_first_not_of('s', 4) == std::string::npos, m, ",siii s...");
    HelloReply reply{m.args[0].text, static_cast<int>(m.args[1].integer), static_cast<int>(m.args[2].integer),
                     m.args[3].integer, {}};
    for (std::size_t k = 4; k < m.args.size(); ++k) reply.capabilities.push_back(m.args[k].text);
    return reply;
  }
  if (m.address == "/stats_reply") {
    StatsReply reply;
    for (std::size_t k = 0; k + 1 < m.args.size(); k += 2) {
      require(m.args[k].tag == 's' && (m.args[k + 1].tag == 'd' || m.args[k + 1].tag == 'f'), m, "(s, d) pairs");
      reply.values.emplace_back(m.args[k].text, m.args[k + 1].number);
    }
    require(m.args.size() % 2 == 0, m, "(s, d) pairs");
    return reply;
  }
  if (m.address == "/busy") {
    require(tags == "s", m, ",s (why)");
    return Busy{m.args[0].text};
  }
  if (m.address == "/packet_test_response") {
    require(!tags.empty() && tags[0] == 'i', m, ",i then samples");
    return PacketTestResponse{static_cast<std::int32_t>(m.args[0].integer), samples_from(m, 1).size()};
  }
  return read_chunk(m);  // any other address names a stem
}

}  // namespace

std::vector<ServerEvent> read_server_datagram(const std::uint8_t* data, std::size_t size) {
  std::vector<ServerEvent> events;
  for (const osc::Message& m : osc::parse(data, size)) events.push_back(read_event(m));
  return events;
}

}  // namespace jaxaccomp
