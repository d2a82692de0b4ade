// [jaxaccomp.stopgate~ [stems]]: the stop gate (docs/streaming.md, "Stop with the band") as an MSP
// object, for the Max patch, which plays the buffer~ with groove~ rather than through
// jaxaccomp.multi_track (a control object with no audio routine).
//
// One signal inlet and one signal outlet per stem (default 4: bass drums guitar piano, the
// buffer~'s channels as groove~ plays them). The stems that `predict_instruments` marks (the same
// one-hot message the patch sends jaxaccomp.multi_track) are the generated ones: they leave
// multiplied by the gate's gain, keyed by the mix of the other stems, what the band plays at the
// playhead; the others pass unchanged. So a generated part falls silent a quarter of a second after
// the band stops and comes back with it, as in the Pd external and in `accompany`.
// Messages: `predict_instruments <0|1> ...` (one flag per stem), `stopgate <0|1>` (0: every stem
// passes as written), `reset` (the gate closes and hears the band from here on: Stop/Reset).
//
// Messages arrive on Max's main or scheduler thread and perform64 runs on the audio thread, so
// what a message changes is an atomic the audio thread reads at the start of each vector.
#include "ext.h"
#include "ext_obex.h"
#include "method_table.h"
#include "z_dsp.h"

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "jaxaccomp/stop_gate.h"

namespace {

constexpr const char* kClassName = "jaxaccomp.stopgate~";
constexpr long kDefaultStems = 4;
constexpr long kMaxStems = 64;  // one bit each in `predicted`

t_class* stop_gate_class = nullptr;

// The object's C++ state (the t_pxobject in front of it must stay plain C).
struct Instance {
  explicit Instance(long stem_count) : stems(stem_count) {}

  long stems;
  std::atomic<std::uint64_t> predicted{1};  // bit k: stem k is generated (bass, by default)
  std::atomic<bool> gated{true};
  std::atomic<bool> reset_due{false};
  jaxaccomp::StopGate gate{44100.0};  // remade by dsp64 at the chain's rate; used by perform64 only
};

struct t_stop_gate {
  t_pxobject object;
  Instance* instance;
};

// --- DSP -----------------------------------------------------------------------------------------

bool is_predicted(std::uint64_t flags, long stem) { return (flags >> stem & 1) != 0; }

void perform64(t_stop_gate* x, t_object*, double** ins, long numins, double** outs, long numouts,
               long sampleframes, long, void*) {
  Instance& in = *x->instance;
  if (in.reset_due.exchange(false)) in.gate.reset();
  const std::uint64_t predicted = in.predicted.load();
  const bool gated = in.gated.load();
  const long stems = numins < numouts ? numins : numouts;
  for (long i = 0; i < sampleframes; ++i) {
    double band = 0.0;  // what the musician plays: the mix of the stems not generated
    for (long k = 0; k < stems; ++k)
      if (!is_predicted(predicted, k)) band += ins[k][i];
    const double heard = in.gate.next(static_cast<float>(band));  // heard even when off: on again, it knows
    const double gain = gated ? heard : 1.0;
    for (long k = 0; k < stems; ++k) outs[k][i] = is_predicted(predicted, k) ? ins[k][i] * gain : ins[k][i];
  }
}

void dsp64(t_stop_gate* x, t_object* chain, short*, double sample_rate, long, long) {
  try {
    x->instance->gate = jaxaccomp::StopGate(sample_rate);  // closed: it hears the band from here on
  } catch (const std::exception& e) {
    object_error(&x->object.z_ob, "%s", e.what());
    return;
  }
  dsp_add64(chain, &x->object.z_ob, reinterpret_cast<t_perfroutine64>(perform64), 0, nullptr);
}

// --- messages ------------------------------------------------------------------------------------

void predict_instruments(t_stop_gate* x, t_symbol*, long argc, t_atom* argv) {
  Instance& in = *x->instance;
  if (argc != in.stems) {
    object_error(&x->object.z_ob, "predict_instruments: give one 0/1 number per stem (%ld), got %ld", in.stems, argc);
    return;
  }
  std::uint64_t flags = 0;
  for (long k = 0; k < argc; ++k) {
    if (atom_gettype(argv + k) == A_SYM) {
      object_error(&x->object.z_ob, "predict_instruments: give one 0/1 number per stem");
      return;
    }
    if (atom_getfloat(argv + k) != 0) flags |= std::uint64_t{1} << k;
  }
  in.predicted.store(flags);
}

void set_stop_gate(t_stop_gate* x, t_atom_long on) { x->instance->gated.store(on != 0); }
void reset(t_stop_gate* x) { x->instance->reset_due.store(true); }

// The text Max shows over an inlet or outlet.
void assist(t_stop_gate*, void*, long kind, long index, char* text) {
  if (kind == ASSIST_INLET)
    std::snprintf(text, ASSIST_MAX_STRING_LEN, "(signal) stem %ld as played%s", index + 1,
                  index == 0 ? "; predict_instruments <0/1 ...>, stopgate <0/1>, reset" : "");
  else
    std::snprintf(text, ASSIST_MAX_STRING_LEN, "(signal) stem %ld, silenced after the band stops if generated",
                  index + 1);
}

// --- life cycle ----------------------------------------------------------------------------------

void* make(t_symbol*, long argc, t_atom* argv) {
  long stems = kDefaultStems;
  if (argc > 1 || (argc == 1 && atom_gettype(argv) == A_SYM)) {
    object_error(nullptr, "%s: usage: %s [number of stems, default %ld]", kClassName, kClassName, kDefaultStems);
    return nullptr;
  }
  if (argc == 1) stems = static_cast<long>(atom_getlong(argv));
  if (stems < 1 || stems > kMaxStems) {
    object_error(nullptr, "%s: the number of stems must be 1 to %ld, got %ld", kClassName, kMaxStems, stems);
    return nullptr;
  }
  auto* x = static_cast<t_stop_gate*>(object_alloc(stop_gate_class));
  if (x == nullptr) return nullptr;
  x->instance = new Instance(stems);
  dsp_setup(&x->object, stems);
  x->object.z_misc |= Z_NO_INPLACE;
  for (long k = 0; k < stems; ++k) outlet_new(x, "signal");
  return x;
}

void destroy(t_stop_gate* x) {
  dsp_free(&x->object);  // off the DSP chain before the state perform64 uses goes
  delete x->instance;
}

}  // namespace

extern "C" C74_EXPORT void ext_main(void*) {
  t_class* c = box_class(kClassName, make, destroy, sizeof(t_stop_gate));
  // The message table; tests/test_maxpat.py reads the names from here.
  const auto add = method_adder(c);
  add(predict_instruments, "predict_instruments", A_GIMME);
  add(set_stop_gate, "stopgate", A_LONG);
  add(reset, "reset");
  add(assist, "assist", A_CANT);
  add(dsp64, "dsp64", A_CANT);
  class_dspinit(c);
  class_register(CLASS_BOX, c);
  stop_gate_class = c;
}
