#include "jaxaccomp/osc.h"

#include <cstring>

#include "check.h"

using jaxaccomp::osc::Bytes;
using jaxaccomp::osc::Error;
using jaxaccomp::osc::Message;
using jaxaccomp::osc::parse;
using jaxaccomp::osc::Writer;

namespace {

Bytes raw(const char* data, std::size_t size) { return Bytes(data, data + size); }

std::vector<Message> parse_bytes(const Bytes& b) { return parse(b.data(), b.size()); }

}  // namespace

TEST(golden_bytes_of_the_reference_messages) {
  // As python-osc and oscpack write them (docs/protocol.md, "Client to server").
  CHECK(Writer("/update_r").d(0.25).bytes() == raw("/update_r\0\0\0,d\0\0\x3f\xd0\0\0\0\0\0\0", 24));
  CHECK(Writer("/reset").i(1).bytes() == raw("/reset\0\0,i\0\0\0\0\0\1", 16));
  CHECK(Writer("/print").T().bytes() == raw("/print\0\0,T\0\0", 12));
  CHECK(Writer("/load_model").bytes() == raw("/load_model\0,\0\0\0", 16));
  const float samples[2] = {1.0f, -2.0f};
  CHECK(Writer("/context").i(3).i(0).i(1).floats(samples, 2).bytes() ==
        raw("/context\0\0\0\0,iiiff\0\0\0\0\0\3\0\0\0\0\0\0\0\1\x3f\x80\0\0\xc0\0\0\0", 40));
  CHECK(Writer("/context").i(3).i(0).i(1).float_blob(samples, 2).bytes() ==
        raw("/context\0\0\0\0,iiib\0\0\0\0\0\0\3\0\0\0\0\0\0\0\1\0\0\0\x08\x3f\x80\0\0\xc0\0\0\0", 44));
}

TEST(every_argument_type_round_trips) {
  const float samples[3] = {0.5f, -0.25f, 3.0f};
  const Bytes bytes =
      Writer("/x").i(-7).h(-(std::int64_t{1} << 40)).f(1.5f).d(-2.25).s("abc").T().float_blob(samples, 3).bytes();
  const auto messages = parse_bytes(bytes);
  CHECK_EQ(messages.size(), 1u);
  const Message& m = messages[0];
  CHECK(m.address == "/x" && m.tags() == "ihfdsTb");
  CHECK_EQ(m.args[0].integer, -7);
  CHECK_EQ(m.args[1].integer, -(std::int64_t{1} << 40));
  CHECK_EQ(m.args[2].number, 1.5);
  CHECK_EQ(m.args[3].number, -2.25);
  CHECK(m.args[4].text == "abc");
  CHECK_EQ(m.args[5].integer, 1);
  CHECK(jaxaccomp::osc::blob_floats(m.args[6].blob) == std::vector<float>(samples, samples + 3));
}

TEST(bundles_are_flattened) {
  const Bytes inner = Writer("/packet_test_response").i(2).f(0.1f).f(0.2f).bytes();
  Bytes bundle = raw("#bundle\0\0\0\0\0\0\0\0\1", 16);
  for (int shift = 24; shift >= 0; shift -= 8) bundle.push_back(static_cast<std::uint8_t>(inner.size() >> shift));
  bundle.insert(bundle.end(), inner.begin(), inner.end());
  const auto messages = parse_bytes(bundle);
  CHECK_EQ(messages.size(), 1u);
  CHECK(messages[0].address == "/packet_test_response" && messages[0].tags() == "iff");
}

TEST(malformed_datagrams_are_one_line_errors) {
  const Bytes good = Writer("/reset").i(1).bytes();
  const std::vector<Bytes> bad = {
      Bytes(good.begin(), good.end() - 4),          // the int is missing
      raw("/reset\0\0,i\0\0", 12),                   // truncated argument
      raw("/reset\0\0,q\0\0\0\0\0\1", 16),           // unknown type tag
      raw("/res", 4),                                // no NUL
      raw("garbage!", 8),                            // not OSC
      raw("/a\0\0,f\0\0\x7f\xc0\0\0", 12),           // NaN
      raw("/a\0\0,b\0\0\0\0\0\x40\0\0\0\0", 16),     // blob larger than the datagram
      raw("#bundle\0\0\0\0\0\0\0\0\1\0\0\0\x40", 20),  // element larger than the bundle
      Bytes(good.begin(), good.end() - 1),          // not a multiple of 4
  };
  for (const Bytes& b : bad) {
    const std::string what = CHECK_THROWS(Error, parse_bytes(b));
    CHECK(!what.empty() && what.find('\n') == std::string::npos);
  }
}

TEST(building_a_bad_address_throws) { CHECK_THROWS(Error, Writer("no-slash")); }
