// [jaxaccomp.multi_track <buffer~> [stem ...]]: the Max/MSP object on the client core, with the
// reference multi_track's messages (docs/max-pd.md, "Messages"). Stems default to bass drums guitar
// piano, one per channel of the buffer~; the patch plays the buffer~ and sends `predict <curr>` at
// each step, and replies are written into the predicted stems' channels.
//
// Max calls in from its main thread (UI) and its scheduler thread (clocks, snapshot~ in the patch), so
// every call into the client holds one mutex; a 5 ms clock polls the replies into the buffer~. What the client says during a call is posted and sent out of the outlet
// after the mutex is released, so a patch that reacts to an output can message this object again.
// One outlet: `step <samples>` (r*T, which the patch's step clock counts in: after T and r, and when
// the server sets T), `listening <port>`, `ready 1`, `batch <id>`, `rtt_ms <ms>`, `packet_test_ms <ms>`,
// `server_<name> <value>`, and the counters of `stats`.
#include "ext.h"
#include "ext_buffer.h"
#include "ext_obex.h"
#include "method_table.h"

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "jaxaccomp/client.h"
#include "locked_buffer.h"

namespace {

using jaxaccomp::Client;
using jaxaccomp::Level;

constexpr const char* kClassName = "jaxaccomp.multi_track";
constexpr long kPollMs = 5;  // replies wait at most this long before they are written
constexpr const char* kDefaultHost = "127.0.0.1";
constexpr int kDefaultServerPort = 7000, kDefaultListenPort = 8000;  // the reference's ports

t_class* multi_track_class = nullptr;

// What the client said during one call: posted and sent out once the call is over.
struct Said {
  std::vector<std::pair<Level, std::string>> lines;
  std::vector<std::pair<std::string, double>> reports;
};

// The object's C++ state (the t_object in front of it must stay plain C).
struct Instance {
  explicit Instance(std::string buffer) : buffer_name(std::move(buffer)) {}

  std::mutex mutex;
  std::unique_ptr<Client> client;
  Said said;  // during the current call, under the mutex
  std::string buffer_name;
  t_buffer_ref* buffer = nullptr;
  void* outlet = nullptr;
  t_clock* poll_clock = nullptr;
  std::int64_t chunks_written = 0;  // at the last poll: more since means the buffer~ changed
  std::int64_t reported_step = 0;
};

struct t_multi_track {
  t_object object;
  Instance* instance;
};

void send_out(t_multi_track* x, const Said& said) {
  for (const auto& [level, line] : said.lines) {
    if (level == Level::error) object_error(&x->object, "%s", line.c_str());
    else if (level == Level::warning) object_warn(&x->object, "%s", line.c_str());
    else object_post(&x->object, "%s", line.c_str());
  }
  for (const auto& [name, value] : said.reports) {
    t_atom atom;
    atom_setfloat(&atom, value);
    outlet_anything(x->instance->outlet, gensym(name.c_str()), 1, &atom);
  }
}

// Runs `body` on the client under the mutex; a refused setting or a network error becomes one
// error line `<what>: <reason>`.
template <typename F>
void with_client(t_multi_track* x, const char* what, F body) {
  Instance& in = *x->instance;
  Said said;
  {
    std::lock_guard<std::mutex> lock(in.mutex);
    try {
      body(*in.client);
    } catch (const std::exception& e) {
      in.said.lines.emplace_back(Level::error, std::string(what) + ": " + e.what());
    }
    std::swap(said, in.said);
  }
  send_out(x, said);
}

// `step <r*T>` out of the outlet: the unit the patch's step clock counts in.
void report_step(Instance& in) {
  in.reported_step = in.client->timing().step();
  in.said.reports.emplace_back("step", static_cast<double>(in.reported_step));
}

// The buffer~ claimed for a call that needs its samples.
void require(const LockedBuffer& buffer, const Instance& in) {
  if (!buffer.claimed()) throw std::runtime_error("no buffer~ named " + in.buffer_name + " (or it is empty)");
}

// --- the poll clock ------------------------------------------------------------------------------

void poll_replies(t_multi_track* x) {
  Instance& in = *x->instance;
  with_client(x, "poll", [&](Client& client) {
    LockedBuffer buffer(in.buffer);  // without a buffer~ the replies' samples have nowhere to go
    client.poll(buffer.store());
    if (client.timing().step() != in.reported_step) report_step(in);  // a /hello_reply set T
    if (client.stats().chunks_received != in.chunks_written) {
      in.chunks_written = client.stats().chunks_received;
      buffer.mark_written();
    }
  });
  clock_delay(in.poll_clock, kPollMs);
}

// --- messages ------------------------------------------------------------------------------------

void predict(t_multi_track* x, t_atom_long curr) {
  Instance& in = *x->instance;
  with_client(x, "predict", [&](Client& client) {
    LockedBuffer buffer(in.buffer);
    require(buffer, in);
    client.set_sample_rate(buffer.sample_rate());  // the fade in samples follows the buffer~'s rate
    if (client.step(curr, buffer.store()) != 0) buffer.mark_written();  // the content window was zeroed
  });
}

std::vector<bool> flags_of(long argc, const t_atom* argv) {
  std::vector<bool> flags;
  for (long k = 0; k < argc; ++k) {
    if (atom_gettype(argv + k) == A_SYM) throw std::invalid_argument("give one 0/1 number per stem");
    flags.push_back(atom_getfloat(argv + k) != 0);
  }
  return flags;
}

void predict_instruments(t_multi_track* x, t_symbol*, long argc, t_atom* argv) {
  with_client(x, "predict_instruments", [&](Client& client) { client.set_predicted(flags_of(argc, argv)); });
}

void set_T(t_multi_track* x, t_atom_long samples) {
  with_client(x, "T", [&](Client& client) {
    client.set_T(samples);
    report_step(*x->instance);
  });
}

void set_r(t_multi_track* x, double r) {
  with_client(x, "r", [&](Client& client) {
    client.set_r(r);
    report_step(*x->instance);
  });
}

void set_w(t_multi_track* x, double w) {
  with_client(x, "w", [&](Client& client) {
    if (w != std::floor(w)) throw std::invalid_argument("w must be -1, 0 or 1");
    client.set_w(static_cast<int>(w));
  });
}

void set_fade(t_multi_track* x, double seconds) {
  with_client(x, "fade", [&](Client& client) { client.set_fade(seconds); });
}

void set_packet_size(t_multi_track* x, t_atom_long samples) {
  with_client(x, "packet_size", [&](Client& client) { client.set_packet_size(static_cast<int>(samples)); });
}

// macOS refuses datagrams over 9,216 bytes unless net.inet.udp.maxdgram was raised.
void set_max_datagram(t_multi_track* x, t_atom_long bytes) {
  with_client(x, "max_datagram", [&](Client& client) {
    if (bytes < 0) throw std::invalid_argument("max_datagram must be positive");
    client.set_max_datagram(static_cast<std::size_t>(bytes));
  });
}

void set_verbose(t_multi_track* x, t_atom_long on) {
  with_client(x, "verbose", [&](Client& client) { client.set_verbose(on != 0); });
}

// 0 for `serve.py --no-ramp`: the server sends its lead-in without the fade-in ramp.
void set_ramped(t_multi_track* x, t_atom_long on) {
  with_client(x, "ramped", [&](Client& client) { client.set_server_ramps_lead_in(on != 0); });
}

// `server <host> [port]`: where batches and settings go.
void server(t_multi_track* x, t_symbol*, long argc, t_atom* argv) {
  with_client(x, "server", [&](Client& client) {
    if (argc < 1 || argc > 2 || atom_gettype(argv) != A_SYM || (argc == 2 && atom_gettype(argv + 1) == A_SYM))
      throw std::invalid_argument("server takes <host> [port], e.g. server 127.0.0.1 7000");
    const int port = argc == 2 ? static_cast<int>(atom_getlong(argv + 1)) : kDefaultServerPort;
    client.set_server(atom_getsym(argv)->s_name, port);
  });
}

void listen_on(t_multi_track* x, t_atom_long port) {
  with_client(x, "listen", [&](Client& client) {
    client.listen(static_cast<int>(port));
    x->instance->said.reports.emplace_back("listening", client.listening_port());
  });
}

void load_model(t_multi_track* x) {
  with_client(x, "load_model", [](Client& client) { client.load_model(); });
}
void reset(t_multi_track* x) {
  with_client(x, "reset", [](Client& client) { client.reset(); });
}
void test_packet(t_multi_track* x) {
  with_client(x, "test_packet", [](Client& client) { client.test_packet(); });
}
void print(t_multi_track* x) {
  with_client(x, "print", [](Client& client) { client.print(); });
}

// Silences the predicted stems' channels (the reference patch did this with an 11-million-bang uzi).
void clear(t_multi_track* x) {
  Instance& in = *x->instance;
  with_client(x, "clear", [&](Client& client) {
    LockedBuffer buffer(in.buffer);
    require(buffer, in);
    jaxaccomp::InterleavedStore& store = buffer.store();
    const std::vector<bool>& predicted = client.predicted();
    for (int channel = 0; channel < store.channels() && channel < static_cast<int>(predicted.size()); ++channel)
      if (predicted[channel])
        for (std::int64_t frame = 0; frame < store.frames(); ++frame) store.set(channel, frame, 0.0f);
    buffer.mark_written();
  });
}

// The client's counters out of the outlet; the server's follow as server_<name> when it answers.
void stats(t_multi_track* x) {
  with_client(x, "stats", [&](Client& client) {
    const jaxaccomp::Stats& s = client.stats();
    const std::pair<const char*, double> counters[] = {
        {"batches_sent", s.batches_sent},         {"batches_complete", s.batches_complete},
        {"batches_incomplete", s.batches_incomplete}, {"batches_dropped", s.batches_dropped},
        {"chunks_received", s.chunks_received},   {"chunks_late", s.chunks_late},
        {"chunks_stale", s.chunks_stale},         {"chunks_duplicate", s.chunks_duplicate},
        {"chunks_misfit", s.chunks_misfit},       {"malformed", s.malformed},
        {"mean_rtt_ms", s.mean_rtt_ms}};
    for (const auto& [name, value] : counters) x->instance->said.reports.emplace_back(name, value);
    client.request_stats();
  });
}

void set_buffer(t_multi_track* x, t_symbol* name) {
  Instance& in = *x->instance;
  with_client(x, "set_buffer", [&](Client&) {
    buffer_ref_set(in.buffer, name);
    in.buffer_name = name->s_name;
  });
}

// The text Max shows over the inlet or the outlet.
void assist(t_multi_track*, void*, long kind, long, char* text) {
  std::snprintf(text, ASSIST_MAX_STRING_LEN, "%s",
                kind == ASSIST_INLET ? "predict <curr>, predict_instruments <0/1 ...>, T, r, w, fade, server, load_model, reset ..."
                                     : "step <r*T>, ready, batch, rtt_ms, server_<name>, stats counters");
}

// buffer~ notifications keep the reference current. No mutex: buffer_setdirty, called under it,
// may notify synchronously.
t_max_err notify(t_multi_track* x, t_symbol* s, t_symbol* msg, void* sender, void* data) {
  return buffer_ref_notify(x->instance->buffer, s, msg, sender, data);
}

// --- life cycle ----------------------------------------------------------------------------------

void* make(t_symbol*, long argc, t_atom* argv) {
  if (argc < 1 || atom_gettype(argv) != A_SYM) {
    object_error(nullptr, "%s: usage: %s <buffer~ name> [stem ...]", kClassName, kClassName);
    return nullptr;
  }
  std::vector<std::string> stems;
  for (long k = 1; k < argc; ++k) {
    if (atom_gettype(argv + k) != A_SYM) {
      object_error(nullptr, "%s: stem names must be symbols", kClassName);
      return nullptr;
    }
    stems.emplace_back(atom_getsym(argv + k)->s_name);
  }
  if (stems.empty()) stems = {"bass", "drums", "guitar", "piano"};

  auto* x = static_cast<t_multi_track*>(object_alloc(multi_track_class));
  if (x == nullptr) return nullptr;
  x->instance = nullptr;
  try {
    x->instance = new Instance(atom_getsym(argv)->s_name);
    Instance& in = *x->instance;
    // Called only inside client calls, which hold the mutex: collect, send out after (with_client).
    jaxaccomp::HostCallbacks said{
        [&in](Level level, const std::string& line) { in.said.lines.emplace_back(level, line); },
        [&in](const std::string& name, double value) { in.said.reports.emplace_back(name, value); }};
    in.client = std::make_unique<Client>(stems, std::move(said));
    in.client->set_server(kDefaultHost, kDefaultServerPort);
  } catch (const std::exception& e) {
    object_error(nullptr, "%s: %s", kClassName, e.what());
    object_free(x);
    return nullptr;
  }
  Instance& in = *x->instance;
  in.outlet = outlet_new(x, nullptr);
  in.buffer = buffer_ref_new(&x->object, atom_getsym(argv));
  in.poll_clock = clock_new(x, reinterpret_cast<method>(poll_replies));
  listen_on(x, kDefaultListenPort);  // a busy port is one error line; `listen <port>` picks another
  clock_delay(in.poll_clock, kPollMs);
  return x;
}

void destroy(t_multi_track* x) {
  Instance* in = x->instance;
  if (in == nullptr) return;
  if (in->poll_clock != nullptr) {
    clock_unset(in->poll_clock);
    object_free(in->poll_clock);
  }
  if (in->buffer != nullptr) object_free(in->buffer);
  delete in;  // joins the listener thread and closes the sockets
}

}  // namespace

extern "C" C74_EXPORT void ext_main(void*) {
  t_class* c = box_class(kClassName, make, destroy, sizeof(t_multi_track));
  // The message table; tests/test_maxpat.py reads the names from here.
  const auto add = method_adder(c);
  add(predict, "predict", A_LONG);
  add(predict_instruments, "predict_instruments", A_GIMME);
  add(set_T, "T", A_LONG);
  add(set_r, "r", A_FLOAT);
  add(set_w, "w", A_FLOAT);
  add(set_fade, "fade", A_FLOAT);
  add(set_packet_size, "packet_size", A_LONG);
  add(set_max_datagram, "max_datagram", A_LONG);
  add(set_verbose, "verbose", A_LONG);
  add(set_ramped, "ramped", A_LONG);
  add(server, "server", A_GIMME);
  add(listen_on, "listen", A_LONG);
  add(load_model, "load_model");
  add(reset, "reset");
  add(test_packet, "test_packet");
  add(print, "print");
  add(clear, "clear");
  add(stats, "stats");
  add(set_buffer, "set_buffer", A_SYM);
  add(notify, "notify", A_CANT);
  add(assist, "assist", A_CANT);
  class_register(CLASS_BOX, c);
  multi_track_class = c;
}
