// [jaxaccomp~ <prefix> [stem ...]]: the Pure Data twin of the multi_track Max external.
//
// It plays the arrays <prefix>-<stem> (default stems: bass drums guitar piano) out of one signal
// outlet per stem, and each time playback reaches the next multiple of the step r*T it sends the
// mix of the unpredicted stems to the server; replies are written back into the predicted stems'
// arrays, ahead of the playhead for w = 1. The rightmost outlet reports `ready 1`, `batch <id>`,
// `rtt_ms <ms>`, `packet_test_ms <ms>`, `server_<name> <value>` and `end 1` (playback finished).
//
// Everything runs on Pd's thread except the core's UDP listener, whose datagrams are written
// into the arrays from a 5 ms poll clock.
#include <m_pd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "jaxaccomp/client.h"
#include "jaxaccomp/stop_gate.h"
#include "pd_array_store.h"

namespace {

using jaxaccomp::Client;
using jaxaccomp::Level;

constexpr double kPollMs = 5.0;
constexpr double kRedrawMs = 100.0;  // at most this often: redrawing long arrays is slow

t_class* jaxaccomp_class = nullptr;

struct Player;

struct t_jaxaccomp {
  t_object object;
  Player* player;
};

// The object's C++ state (the t_object above must stay plain C).
struct Player {
  explicit Player(std::string array_prefix) : prefix(std::move(array_prefix)) {}

  std::string prefix;
  std::unique_ptr<Client> client;
  t_outlet* reports = nullptr;
  std::int64_t playhead = 0;
  bool playing = false;
  jaxaccomp::StepClock step_clock{1};
  std::optional<std::int64_t> due_step;  // found by the DSP loop, sent from `step_tick`
  std::vector<t_word*> dsp_words;        // the arrays as the DSP chain last saw them
  std::int64_t dsp_frames = 0;
  t_clock *step_tick = nullptr, *poll_tick = nullptr, *end_tick = nullptr;
  std::int64_t written = 0;  // reply chunks written at the last redraw
  double redrawn_at = 0.0;
  jaxaccomp::StopGate gate{44100.0};  // remade at the DSP chain's rate
  bool gated = true;                  // `stopgate 0` plays the predicted stems as written

  PdArrayStore store() const { return PdArrayStore(prefix, client->stems()); }
};

void log_line(t_jaxaccomp* x, Level level, const std::string& line) {
  if (level == Level::error) pd_error(x, "jaxaccomp~: %s", line.c_str());
  else if (level == Level::warning) post("jaxaccomp~: warning: %s", line.c_str());
  else post("jaxaccomp~: %s", line.c_str());
}

// Runs a message handler: a refused setting or a network error is one line in the Pd window.
template <typename F>
void guarded(t_jaxaccomp* x, const char* what, F body) {
  try {
    body();
  } catch (const std::exception& e) {
    pd_error(x, "jaxaccomp~: %s: %s", what, e.what());
  }
}

// --- clocks ----------------------------------------------------------------------------------

void send_due_step(t_jaxaccomp* x) {
  Player& p = *x->player;
  if (!p.due_step) return;
  PdArrayStore store = p.store();
  if (!store.missing().empty()) {
    pd_error(x, "jaxaccomp~: no float array named %s", store.missing().c_str());
    return;
  }
  p.client->step(*p.due_step, store);
  p.due_step.reset();
}

void poll_replies(t_jaxaccomp* x) {
  Player& p = *x->player;
  PdArrayStore store = p.store();
  p.client->poll(store);
  const std::int64_t written = p.client->stats().chunks_received;
  if (written != p.written && clock_gettimesince(p.redrawn_at) >= kRedrawMs) {
    store.redraw();
    p.written = written;
    p.redrawn_at = clock_getlogicaltime();
  }
  clock_delay(p.poll_tick, kPollMs);
}

void report_end(t_jaxaccomp* x) {
  t_atom one;
  SETFLOAT(&one, 1);
  outlet_anything(x->player->reports, gensym("end"), 1, &one);
}

// --- DSP -------------------------------------------------------------------------------------

t_int* perform(t_int* w) {
  auto* x = reinterpret_cast<t_jaxaccomp*>(w[1]);
  const int n = static_cast<int>(w[2]);
  Player& p = *x->player;
  const std::size_t stems = p.dsp_words.size();
  const std::vector<bool>& predicted = p.client->predicted();
  for (int i = 0; i < n; ++i) {
    const std::int64_t frame = p.playhead + i;
    const bool audible = p.playing && frame < p.dsp_frames;
    float band = 0;  // what the musician plays: the mix of the stems not predicted, as sent
    for (std::size_t c = 0; c < stems; ++c)
      if (audible && !predicted[c] && p.dsp_words[c] != nullptr) band += p.dsp_words[c][frame].w_float;
    const float heard = audible ? p.gate.next(band) : 1.0f;  // heard even with `stopgate 0`
    const float gain = p.gated ? heard : 1.0f;
    for (std::size_t c = 0; c < stems; ++c) {
      auto* out = reinterpret_cast<t_sample*>(w[3 + c]);
      const float sample = audible && p.dsp_words[c] != nullptr ? p.dsp_words[c][frame].w_float : 0;
      out[i] = predicted[c] ? sample * gain : sample;
    }
  }
  if (p.playing) {
    p.playhead = std::min(p.playhead + n, p.dsp_frames);
    const std::int64_t step = p.client->timing().step();
    if (p.step_clock.step() != step) {
      p.step_clock = jaxaccomp::StepClock(step);
      p.step_clock.restart(p.playhead - n);
    }
    if (auto at = p.step_clock.advance(p.playhead)) {
      p.due_step = *at;
      clock_delay(p.step_tick, 0);
    }
    if (p.playhead >= p.dsp_frames) {
      p.playing = false;
      clock_delay(p.end_tick, 0);
    }
  }
  return w + 3 + stems;
}

void dsp(t_jaxaccomp* x, t_signal** sp) {
  Player& p = *x->player;
  guarded(x, "dsp", [&] {
    p.client->set_sample_rate(sp[0]->s_sr);
    p.gate = jaxaccomp::StopGate(sp[0]->s_sr);
  });
  PdArrayStore store = p.store();
  store.use_in_dsp();
  p.dsp_frames = store.frames();
  p.dsp_words.clear();
  const std::size_t stems = p.client->stems().size();
  for (std::size_t c = 0; c < stems; ++c) p.dsp_words.push_back(store.words(static_cast<int>(c)));
  std::vector<t_int> args = {reinterpret_cast<t_int>(x), static_cast<t_int>(sp[0]->s_n)};
  for (std::size_t c = 0; c < stems; ++c) args.push_back(reinterpret_cast<t_int>(sp[c]->s_vec));
  dsp_addv(perform, static_cast<int>(args.size()), args.data());
}

// --- messages --------------------------------------------------------------------------------

void play(t_jaxaccomp* x, t_floatarg on) {
  Player& p = *x->player;
  const PdArrayStore store = p.store();
  if (on != 0 && !store.missing().empty()) pd_error(x, "jaxaccomp~: no float array named %s", store.missing().c_str());
  if (on != 0 && !p.playing) {
    p.step_clock.restart(p.playhead);
    p.gate.reset();  // it hears the band from here on
  }
  p.playing = on != 0;
}

void bang(t_jaxaccomp* x) { play(x, 1); }
void stop(t_jaxaccomp* x) { x->player->playing = false; }

void seek(t_jaxaccomp* x, t_floatarg frame) {
  Player& p = *x->player;
  p.playhead = std::max<std::int64_t>(0, static_cast<std::int64_t>(frame));
  p.step_clock.restart(p.playhead);
  p.gate.reset();
}

void reset(t_jaxaccomp* x) {
  x->player->playing = false;
  seek(x, 0);
  guarded(x, "reset", [&] { x->player->client->reset(); });
}

void predict(t_jaxaccomp* x, t_floatarg curr) {
  x->player->due_step = static_cast<std::int64_t>(curr);
  send_due_step(x);
}

// Pd floats are 32-bit: 0.02 arrives as 0.0199999996, and int(0.0199999996 * 44100) is 881, not the
// 882 samples the user meant. Reading the float back at its own precision recovers 0.02.
double decimal(t_floatarg v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7g", static_cast<double>(v));
  return std::strtod(text, nullptr);
}

void set_T(t_jaxaccomp* x, t_floatarg v) {
  guarded(x, "T", [&] { x->player->client->set_T(static_cast<std::int64_t>(v)); });
}
void set_r(t_jaxaccomp* x, t_floatarg v) { guarded(x, "r", [&] { x->player->client->set_r(decimal(v)); }); }
void set_w(t_jaxaccomp* x, t_floatarg v) { guarded(x, "w", [&] { x->player->client->set_w(static_cast<int>(v)); }); }
void set_fade(t_jaxaccomp* x, t_floatarg v) { guarded(x, "fade", [&] { x->player->client->set_fade(decimal(v)); }); }
void set_verbose(t_jaxaccomp* x, t_floatarg v) {
  guarded(x, "verbose", [&] { x->player->client->set_verbose(v != 0); });
}
void set_ramped(t_jaxaccomp* x, t_floatarg v) { x->player->client->set_server_ramps_lead_in(v != 0); }
void set_stop_gate(t_jaxaccomp* x, t_floatarg v) { x->player->gated = v != 0; }

void set_packet_size(t_jaxaccomp* x, t_floatarg v) {
  guarded(x, "packet_size", [&] { x->player->client->set_packet_size(static_cast<int>(v)); });
}

void set_max_datagram(t_jaxaccomp* x, t_floatarg v) {
  guarded(x, "max_datagram", [&] { x->player->client->set_max_datagram(static_cast<std::size_t>(v)); });
}

void predict_instruments(t_jaxaccomp* x, t_symbol*, int argc, t_atom* argv) {
  std::vector<bool> flags;
  for (int k = 0; k < argc; ++k) flags.push_back(atom_getfloat(argv + k) != 0);
  guarded(x, "predict_instruments", [&] { x->player->client->set_predicted(flags); });
}

// One-hot from a radio button: `instrument 2` predicts the third stem only; -1 none.
void instrument(t_jaxaccomp* x, t_floatarg index) {
  std::vector<bool> flags(x->player->client->stems().size(), false);
  if (index >= 0 && static_cast<std::size_t>(index) < flags.size()) flags[static_cast<std::size_t>(index)] = true;
  guarded(x, "instrument", [&] { x->player->client->set_predicted(flags); });
}

void server(t_jaxaccomp* x, t_symbol* host, t_floatarg port) {
  guarded(x, "server", [&] { x->player->client->set_server(host->s_name, static_cast<int>(port)); });
}

void listen(t_jaxaccomp* x, t_floatarg port) {
  guarded(x, "listen", [&] { x->player->client->listen(static_cast<int>(port)); });
}

void load_model(t_jaxaccomp* x) { guarded(x, "load_model", [&] { x->player->client->load_model(); }); }
void hello(t_jaxaccomp* x) { guarded(x, "hello", [&] { x->player->client->hello(); }); }
void test_packet(t_jaxaccomp* x) { guarded(x, "test_packet", [&] { x->player->client->test_packet(); }); }
void print(t_jaxaccomp* x) { guarded(x, "print", [&] { x->player->client->print(); }); }

// Posts the client's counters in one line and asks the server for its own.
void stats(t_jaxaccomp* x) {
  const Client& c = *x->player->client;
  const jaxaccomp::Stats& s = c.stats();
  std::ostringstream line;
  line << "stats sent " << s.batches_sent << " complete " << s.batches_complete << " incomplete "
       << s.batches_incomplete << " dropped " << s.batches_dropped << " late " << s.chunks_late << " stale "
       << s.chunks_stale << " duplicate " << s.chunks_duplicate << " misfit " << s.chunks_misfit << " malformed "
       << s.malformed << " rtt_ms " << s.mean_rtt_ms << " T " << c.timing().T << " encoding "
       << (c.encoding() == jaxaccomp::Encoding::blob ? "blob" : "floats");
  post("jaxaccomp~: %s", line.str().c_str());
  guarded(x, "stats", [&] { x->player->client->request_stats(); });
}

// --- life cycle ------------------------------------------------------------------------------

void* make(t_symbol*, int argc, t_atom* argv) {
  if (argc < 1 || argv[0].a_type != A_SYMBOL) {
    pd_error(nullptr, "jaxaccomp~: usage: [jaxaccomp~ <array prefix> [stem ...]] (arrays <prefix>-<stem>)");
    return nullptr;
  }
  std::vector<std::string> stems;
  for (int k = 1; k < argc; ++k) {
    if (argv[k].a_type != A_SYMBOL) {
      pd_error(nullptr, "jaxaccomp~: stem names must be symbols");
      return nullptr;
    }
    stems.emplace_back(atom_getsymbol(argv + k)->s_name);
  }
  if (stems.empty()) stems = {"bass", "drums", "guitar", "piano"};

  auto* x = reinterpret_cast<t_jaxaccomp*>(pd_new(jaxaccomp_class));
  x->player = nullptr;
  try {
    x->player = new Player(atom_getsymbol(argv)->s_name);
    x->player->client = std::make_unique<Client>(
        stems, jaxaccomp::HostCallbacks{[x](Level level, const std::string& line) { log_line(x, level, line); },
                                        [x](const std::string& name, double value) {
                                          t_atom atom;
                                          SETFLOAT(&atom, static_cast<t_float>(value));
                                          outlet_anything(x->player->reports, gensym(name.c_str()), 1, &atom);
                                        }});
  } catch (const std::exception& e) {
    pd_error(nullptr, "jaxaccomp~: %s", e.what());
    pd_free(&x->object.ob_pd);
    return nullptr;
  }
  Player& p = *x->player;
  for (std::size_t c = 0; c < stems.size(); ++c) outlet_new(&x->object, &s_signal);
  p.reports = outlet_new(&x->object, nullptr);
  p.step_tick = clock_new(x, reinterpret_cast<t_method>(send_due_step));
  p.poll_tick = clock_new(x, reinterpret_cast<t_method>(poll_replies));
  p.end_tick = clock_new(x, reinterpret_cast<t_method>(report_end));
  p.redrawn_at = clock_getlogicaltime();
  clock_delay(p.poll_tick, kPollMs);
  return x;
}

void destroy(t_jaxaccomp* x) {
  Player* p = x->player;
  if (p == nullptr) return;
  for (t_clock* clock : {p->step_tick, p->poll_tick, p->end_tick})
    if (clock != nullptr) clock_free(clock);
  delete p;  // joins the listener thread and closes its socket
}

}  // namespace

extern "C" {
#if defined(_WIN32)
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
void jaxaccomp_tilde_setup(void) {
  jaxaccomp_class = class_new(gensym("jaxaccomp~"), reinterpret_cast<t_newmethod>(make),
                              reinterpret_cast<t_method>(destroy), sizeof(t_jaxaccomp), CLASS_DEFAULT, A_GIMME, 0);
  auto add = [](auto method, const char* name, auto... types) {
    class_addmethod(jaxaccomp_class, reinterpret_cast<t_method>(method), gensym(name), types..., A_NULL);
  };
  add(dsp, "dsp", A_CANT);
  add(play, "play", A_DEFFLOAT);
  add(stop, "stop");
  add(seek, "seek", A_FLOAT);
  add(reset, "reset");
  add(predict, "predict", A_FLOAT);
  add(set_T, "T", A_FLOAT);
  add(set_r, "r", A_FLOAT);
  add(set_w, "w", A_FLOAT);
  add(set_fade, "fade", A_FLOAT);
  add(set_packet_size, "packet_size", A_FLOAT);
  add(set_max_datagram, "max_datagram", A_FLOAT);
  add(set_verbose, "verbose", A_FLOAT);
  add(set_ramped, "ramped", A_FLOAT);
  add(set_stop_gate, "stopgate", A_FLOAT);
  add(predict_instruments, "predict_instruments", A_GIMME);
  add(instrument, "instrument", A_FLOAT);
  add(server, "server", A_SYMBOL, A_FLOAT);
  add(listen, "listen", A_FLOAT);
  add(load_model, "load_model");
  add(hello, "hello");
  add(stats, "stats");
  add(test_packet, "test_packet");
  add(print, "print");
  class_addbang(jaxaccomp_class, reinterpret_cast<t_method>(bang));
}
}
