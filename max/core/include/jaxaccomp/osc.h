// A compact OSC 1.0 codec: exactly what the multi_track protocol and our extensions use
// (i, h, f, d, s, b, T, F arguments and bundles). Big-endian on the wire, bounds-checked on read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace jaxaccomp::osc {

using Bytes = std::vector<std::uint8_t>;

// A datagram that breaks OSC 1.0, or a message that cannot be built; what() is one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds one message: the address, then arguments in order; bytes() assembles the datagram.
class Writer {
 public:
  explicit Writer(std::string_view address);
  Writer& i(std::int32_t value);
  Writer& h(std::int64_t value);
  Writer& f(float value);
  Writer& d(double value);
  Writer& s(std::string_view text);
  Writer& T();
  Writer& floats(const float* samples, std::size_t count);      // count `f` arguments
  Writer& float_blob(const float* samples, std::size_t count);  // one `b` of big-endian float32
  Bytes bytes() const;

 private:
  std::string address_;
  std::string tags_ = ",";
  Bytes args_;
};

// One decoded argument; which field holds the value depends on `tag`.
struct Value {
  char tag = 0;
  std::int64_t integer = 0;  // i, h; T is 1 and F is 0
  double number = 0.0;       // f, d
  std::string text;          // s
  Bytes blob;                // b
};

struct Message {
  std::string address;
  std::vector<Value> args;
  std::string tags() const;  // without the leading comma
};

// Every message of a datagram; bundles are flattened (nested up to 4 levels). Throws Error.
std::vector<Message> parse(const std::uint8_t* data, std::size_t size);

// The big-endian float32 samples packed in a blob; Error if it is not whole samples.
std::vector<float> blob_floats(const Bytes& blob);

// Bytes of an OSC string (NUL-terminated, padded to 4).
constexpr std::size_t padded_string_size(std::size_t length) { return (length + 4) & ~std::size_t{3}; }

}  // namespace jaxaccomp::osc
