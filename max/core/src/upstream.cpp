#include "jaxaccomp/upstream.h"

#include <algorithm>

namespace jaxaccomp {

std::size_t audio_datagram_size(const std::string& address, std::size_t samples, Encoding encoding, bool position) {
  const std::size_t header_tags = position ? 5 : 4;  // ",iii" or ",iiih"
  const std::size_t header_bytes = position ? 20 : 12;
  const std::size_t tags = encoding == Encoding::floats ? header_tags + samples : header_tags + 1;
  const std::size_t payload = encoding == Encoding::floats ? 4 * samples : 4 + 4 * samples;
  return osc::padded_string_size(address.size()) + osc::padded_string_size(tags) + header_bytes + payload;
}

int max_packet_size(const std::string& address, std::size_t max_datagram, Encoding encoding, bool position) {
  std::size_t low = 0, high = max_datagram;  // the size grows with the samples: bisect
  while (low < high) {
    std::size_t mid = (low + high + 1) / 2;
    if (audio_datagram_size(address, mid, encoding, position) <= max_datagram) low = mid;
    else high = mid - 1;
  }
  return static_cast<int>(low);
}

std::vector<float> mix_context(const SampleStore& store, const std::vector<bool>& predicted, std::int64_t start,
                               std::int64_t end) {
  std::vector<float> block(static_cast<std::size_t>(std::max<std::int64_t>(end - start, 0)), 0.0f);
  const std::int64_t first = std::max<std::int64_t>(start, 0), last = std::min(end, store.frames());
  for (int channel = 0; channel < store.channels(); ++channel) {
    if (channel < static_cast<int>(predicted.size()) && predicted[channel]) continue;
    for (std::int64_t frame = first; frame < last; ++frame) block[frame - start] += store.get(channel, frame);
  }
  return block;
}

std::vector<osc::Bytes> context_datagrams(std::int32_t batch_id, const std::vector<float>& block, int packet_size,
                                          Encoding encoding, std::optional<std::int64_t> position) {
  const std::size_t size = static_cast<std::size_t>(packet_size);
  const std::int32_t total = static_cast<std::int32_t>((block.size() + size - 1) / size);
  std::vector<osc::Bytes> out;
  for (std::size_t offset = 0; offset < block.size(); offset += size) {
    const std::size_t n = std::min(size, block.size() - offset);
    osc::Writer message("/context");
    message.i(batch_id).i(static_cast<std::int32_t>(offset)).i(total);
    if (position) message.h(*position + static_cast<std::int64_t>(offset));
    if (encoding == Encoding::blob) message.float_blob(block.data() + offset, n);
    else message.floats(block.data() + offset, n);
    out.push_back(message.bytes());
  }
  return out;
}

}  // namespace jaxaccomp
