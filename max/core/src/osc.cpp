#include "jaxaccomp/osc.h"

#include <cmath>
#include <cstring>

namespace jaxaccomp::osc {
namespace {

constexpr int kMaxBundleDepth = 4;
constexpr char kBundleTag[] = "#bundle";  // 8 bytes with its NUL

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void put_u64(Bytes& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}

void put_string(Bytes& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
  out.resize(out.size() + padded_string_size(text.size()) - text.size(), 0);
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::uint64_t get_u64(const std::uint8_t* p) { return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4); }

template <typename To, typename From>
To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// A bounds-checked cursor over one message or bundle.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool done() const { return pos_ == size_; }
  std::size_t pos() const { return pos_; }

  const std::uint8_t* take(std::size_t n, const char* what) {
    if (n > size_ - pos_) throw Error(std::string("truncated ") + what);
    const std::uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  std::string string(const char* what) {
    const void* end = std::memchr(data_ + pos_, 0, size_ - pos_);
    if (end == nullptr) throw Error(std::string(what) + " is not NUL-terminated");
    std::size_t length = static_cast<const std::uint8_t*>(end) - (data_ + pos_);
    std::string text(reinterpret_cast<const char*>(data_ + pos_), length);
    const std::uint8_t* padded = take(padded_string_size(length), what);
    for (std::size_t k = length; k < padded_string_size(length); ++k)
      if (padded[k] != 0) throw Error(std::string(what) + " is not padded with NULs");
    return text;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

Value read_value(Reader& in, char tag, const std::string& address) {
  Value v;
  v.tag = tag;
  switch (tag) {
    case 'i': v.integer = static_cast<std::int32_t>(get_u32(in.take(4, "int32"))); break;
    case 'h': v.integer = static_cast<std::int64_t>(get_u64(in.take(8, "int64"))); break;
    case 'f': v.number = bit_cast<float>(get_u32(in.take(4, "float32"))); break;
    case 'd': v.number = bit_cast<double>(get_u64(in.take(8, "float64"))); break;
    case 's': v.text = in.string("string argument"); break;
    case 'T': v.integer = 1; break;
    case 'F': v.integer = 0; break;
    case 'b': {
      std::int32_t size = static_cast<std::int32_t>(get_u32(in.take(4, "blob size")));
      if (size < 0) throw Error(address + ": negative blob size");
      const std::uint8_t* p = in.take((static_cast<std::size_t>(size) + 3) & ~std::size_t{3}, "blob");
      v.blob.assign(p, p + size);
      break;
    }
    default: throw Error(address + ": unsupported type tag '" + std::string(1, tag) + "'");
  }
  if ((tag == 'f' || tag == 'd') && !std::isfinite(v.number)) throw Error(address + ": NaN or infinite argument");
  return v;
}

Message parse_message(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  Message m;
  m.address = in.string("address");
  std::string tags = in.done() ? "," : in.string("type tag string");
  if (tags.empty() || tags[0] != ',') throw Error(m.address + ": type tag string must start with ','");
  m.args.reserve(tags.size() - 1);
  for (std::size_t k = 1; k < tags.size(); ++k) m.args.push_back(read_value(in, tags[k], m.address));
  if (!in.done()) throw Error(m.address + ": bytes after the last argument");
  return m;
}

void parse_packet(const std::uint8_t* data, std::size_t size, int depth, std::vector<Message>& out) {
  if (size == 0 || size % 4 != 0) throw Error("packet of " + std::to_string(size) + " bytes is not a multiple of 4");
  if (data[0] == '/') {
    out.push_back(parse_message(data, size));
    return;
  }
  if (size < 16 || std::memcmp(data, kBundleTag, sizeof kBundleTag) != 0) throw Error("not an OSC packet");
  if (depth >= kMaxBundleDepth) throw Error("bundles nested too deep");
  Reader in(data + 16, size - 16);  // skip "#bundle\0" and the time tag
  while (!in.done()) {
    std::uint32_t element = get_u32(in.take(4, "bundle element size"));
    parse_packet(in.take(element, "bundle element"), element, depth + 1, out);
  }
}

}  // namespace

Writer::Writer(std::string_view address) : address_(address) {
  if (address_.empty() || address_[0] != '/' || address_.find('\0') != std::string::npos)
    throw Error("bad OSC address '" + address_ + "'");
}

Writer& Writer::i(std::int32_t value) {
  tags_ += 'i';
  put_u32(args_, static_cast<std::uint32_t>(value));
  return *this;
}

Writer& Writer::h(std::int64_t value) {
  tags_ += 'h';
  put_u64(args_, static_cast<std::uint64_t>(value));
  return *this;
}

Writer& Writer::f(float value) {
  tags_ += 'f';
  put_u32(args_, bit_cast<std::uint32_t>(value));
  return *this;
}

Writer& Writer::d(double value) {
  tags_ += 'd';
  put_u64(args_, bit_cast<std::uint64_t>(value));
  return *this;
}

Writer& Writer::s(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) throw Error("OSC strings cannot contain NUL");
  tags_ += 's';
  put_string(args_, text);
  return *this;
}

Writer& Writer::T() {
  tags_ += 'T';
  return *this;
}

Writer& Writer::floats(const float* samples, std::size_t count) {
  tags_.append(count, 'f');
  args_.reserve(args_.size() + 4 * count);
  for (std::size_t k = 0; k < count; ++k) put_u32(args_, bit_cast<std::uint32_t>(samples[k]));
  return *this;
}

Writer& Writer::float_blob(const float* samples, std::size_t count) {
  tags_ += 'b';
  put_u32(args_, static_cast<std::uint32_t>(4 * count));
  for (std::size_t k = 0; k < count; ++k) put_u32(args_, bit_cast<std::uint32_t>(samples[k]));
  return *this;  // 4 * count bytes need no padding
}

Bytes Writer::bytes() const {
  Bytes out;
  out.reserve(padded_string_size(address_.size()) + padded_string_size(tags_.size()) + args_.size());
  put_string(out, address_);
  put_string(out, tags_);
  out.insert(out.end(), args_.begin(), args_.end());
  return out;
}

std::string Message::tags() const {
  std::string out;
  for (const Value& v : args) out += v.tag;
  return out;
}

std::vector<Message> parse(const std::uint8_t* data, std::size_t size) {
  std::vector<Message> out;
  parse_packet(data, size, 0, out);
  return out;
}

std::vector<float> blob_floats(const Bytes& blob) {
  if (blob.size() % 4 != 0)
    throw Error("an audio blob of " + std::to_string(blob.size()) + " bytes is not whole float32 samples");
  std::vector<float> out(blob.size() / 4);
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = bit_cast<float>(get_u32(blob.data() + 4 * k));
  return out;
}

}  // namespace jaxaccomp::osc
