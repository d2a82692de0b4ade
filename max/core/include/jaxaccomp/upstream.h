// What the client sends each step: the mix of the stems it does not predict, cut into `/context`
// chunk datagrams, and the datagram sizes that bound the packet size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jaxaccomp/osc.h"
#include "jaxaccomp/sample_store.h"

namespace jaxaccomp {

// How audio samples travel: N `f` arguments (the reference server) or one float32 blob (ours).
enum class Encoding { floats, blob };

constexpr std::size_t kMaxUdpPayload = 65507;  // IPv4
constexpr std::size_t kMacDatagramLimit = 9216;  // macOS net.inet.udp.maxdgram default
constexpr int kMinPacketSize = 128;                // the servers' lower bound

// Bytes of one audio chunk datagram `address ,iii[h] ...` carrying `samples` floats.
std::size_t audio_datagram_size(const std::string& address, std::size_t samples, Encoding encoding, bool position);

// The most samples per chunk that keep such datagrams within `max_datagram` bytes.
int max_packet_size(const std::string& address, std::size_t max_datagram, Encoding encoding, bool position);

// The sum of the channels whose `predicted` flag is off over frames [start, end); frames outside
// the store read as silence.
std::vector<float> mix_context(const SampleStore& store, const std::vector<bool>& predicted, std::int64_t start,
                               std::int64_t end);

// `/context` datagrams of `packet_size` samples (the last shorter): batch id, the chunk's sample
// offset in the block, the number of chunks, [position of the chunk's first sample,] samples.
std::vector<osc::Bytes> context_datagrams(std::int32_t batch_id, const std::vector<float>& block, int packet_size,
                                          Encoding encoding, std::optional<std::int64_t> position);

}  // namespace jaxaccomp
