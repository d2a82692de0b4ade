// The fake Max behind the shim (see fake_max.h): just enough of Max's behaviour for the object's
// tests, kept in one process-wide World.
#include "fake_max.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "ext_buffer.h"

struct clock {
  void* owner;
  method fn;
  bool due = false;
};

struct _buffer_ref {
  std::string name;
};

struct maxclass {
  std::string name;
  method make, destroy;
  long size;
  std::map<std::string, std::pair<method, std::vector<int>>> methods;  // selector -> handler, argument types
};

namespace fake_max {
namespace {

struct Outlet {
  void* owner;
  std::string type;  // "signal" for a signal outlet
};

// What a signal object gave Max: its inlets (dsp_setup) and, once compiled, its perform routine.
struct Dsp {
  int inlets = 0;
  long vector_size = 0;
  t_perfroutine64 perform = nullptr;
  long flags = 0;
  void* userparam = nullptr;
};

struct World {
  std::map<std::string, std::unique_ptr<std::string>> names;  // gensym's strings
  std::map<std::string, t_symbol> symbols;
  std::vector<Line> console;
  std::vector<Output> outputs;
  std::map<std::string, std::unique_ptr<maxclass>> classes;
  std::map<void*, maxclass*> instances;
  std::vector<std::unique_ptr<Outlet>> outlets;
  std::map<t_clock*, std::unique_ptr<t_clock>> clocks;
  std::map<t_buffer_ref*, std::unique_ptr<t_buffer_ref>> buffer_refs;
  std::map<std::string, std::unique_ptr<Buffer>> buffers;
  std::map<void*, Dsp> dsp;  // signal objects, by object
};

World& world() {
  static World w;
  return w;
}

// The wrapper only passes buffer~ objects back to the buffer API, which turns them into ours again.
t_buffer_obj* as_object(Buffer* buffer) { return reinterpret_cast<t_buffer_obj*>(buffer); }
Buffer* as_buffer(t_buffer_obj* object) { return reinterpret_cast<Buffer*>(object); }

void record(Line::Kind kind, t_object* x, const char* format, va_list args) {
  char text[4096];
  std::vsnprintf(text, sizeof text, format, args);
  const auto owner = x != nullptr ? world().instances.find(x) : world().instances.end();
  world().console.push_back({kind, (owner != world().instances.end() ? owner->second->name + ": " : "") + text});
}

t_atom atom_of(const Arg& arg) {
  t_atom atom;
  if (const auto* i = std::get_if<long long>(&arg)) {
    atom.a_type = A_LONG;
    atom.a_w.w_long = *i;
  } else if (const auto* f = std::get_if<double>(&arg)) {
    atom.a_type = A_FLOAT;
    atom.a_w.w_float = *f;
  } else {
    atom.a_type = A_SYM;
    atom.a_w.w_sym = gensym(std::get<std::string>(arg).c_str());
  }
  return atom;
}

void refuse(void* object, const std::string& why) {
  world().console.push_back({Line::error, world().instances.at(object)->name + ": " + why});
}

}  // namespace

const std::vector<Line>& console() { return world().console; }
const std::vector<Output>& outputs() { return world().outputs; }

void forget() {
  world().console.clear();
  world().outputs.clear();
}

std::vector<std::string> errors() {
  std::vector<std::string> texts;
  for (const Line& line : world().console)
    if (line.kind == Line::error) texts.push_back(line.text);
  return texts;
}

Buffer& make_buffer(const std::string& name, int channels, std::int64_t frames, double sample_rate) {
  auto buffer = std::make_unique<Buffer>();
  buffer->channels = channels;
  buffer->frames = frames;
  buffer->sample_rate = sample_rate;
  buffer->samples.assign(static_cast<std::size_t>(channels * frames), 0.0f);
  return *(world().buffers[name] = std::move(buffer));
}

void remove_buffer(const std::string& name) { world().buffers.erase(name); }

void* create(const std::string& class_name, const std::vector<Arg>& args) {
  const maxclass& c = *world().classes.at(class_name);
  std::vector<t_atom> atoms;
  for (const Arg& arg : args) atoms.push_back(atom_of(arg));
  using New = void* (*)(t_symbol*, long, t_atom*);
  return reinterpret_cast<New>(c.make)(gensym(class_name.c_str()), static_cast<long>(atoms.size()), atoms.data());
}

void send(void* object, const std::string& selector, const std::vector<Arg>& args) {
  const maxclass& c = *world().instances.at(object);
  const auto found = c.methods.find(selector);
  if (found == c.methods.end() || found->second.second == std::vector<int>{A_CANT})
    return refuse(object, "doesn't understand \"" + selector + "\"");
  const auto& [handler, types] = found->second;
  std::vector<t_atom> atoms;
  for (const Arg& arg : args) atoms.push_back(atom_of(arg));

  if (types == std::vector<int>{A_GIMME}) {
    using Gimme = void (*)(void*, t_symbol*, long, t_atom*);
    return reinterpret_cast<Gimme>(handler)(object, gensym(selector.c_str()), static_cast<long>(atoms.size()),
                                            atoms.data());
  }
  if (atoms.size() != types.size()) return refuse(object, "wrong number of arguments for \"" + selector + "\"");
  if (types.empty()) return reinterpret_cast<void (*)(void*)>(handler)(object);
  const t_atom& atom = atoms[0];
  if ((types[0] == A_SYM) != (atom.a_type == A_SYM)) return refuse(object, "bad arguments for \"" + selector + "\"");
  if (types[0] == A_LONG) return reinterpret_cast<void (*)(void*, t_atom_long)>(handler)(object, atom_getlong(&atom));
  if (types[0] == A_FLOAT) return reinterpret_cast<void (*)(void*, double)>(handler)(object, atom_getfloat(&atom));
  if (types[0] == A_SYM) return reinterpret_cast<void (*)(void*, t_symbol*)>(handler)(object, atom_getsym(&atom));
  refuse(object, "the fake cannot deliver \"" + selector + "\"'s argument types");
}

void run_clocks() {
  std::vector<t_clock*> due;
  for (auto& [key, c] : world().clocks)
    if (c->due) due.push_back(key);
  for (t_clock* key : due) {
    const auto it = world().clocks.find(key);
    if (it == world().clocks.end() || !it->second->due) continue;  // freed or unset by an earlier one
    it->second->due = false;
    reinterpret_cast<void (*)(void*)>(it->second->fn)(it->second->owner);
  }
}

int live_clocks() { return static_cast<int>(world().clocks.size()); }

std::string assist(void* object, bool inlet, long index) {
  const maxclass& c = *world().instances.at(object);
  const auto found = c.methods.find("assist");
  if (found == c.methods.end()) return "";
  char text[ASSIST_MAX_STRING_LEN + 1] = {};
  using Assist = void (*)(void*, void*, long, long, char*);
  reinterpret_cast<Assist>(found->second.first)(object, nullptr, inlet ? ASSIST_INLET : ASSIST_OUTLET, index, text);
  return text;
}

int signal_inlets(void* object) { return world().dsp.at(object).inlets; }

int signal_outlets(void* object) {
  int count = 0;
  for (const auto& outlet : world().outlets) count += outlet->owner == object && outlet->type == "signal";
  return count;
}

bool start_dsp(void* object, double sample_rate, long vector_size) {
  const maxclass& c = *world().instances.at(object);
  const auto found = c.methods.find("dsp64");
  if (found == c.methods.end()) {
    refuse(object, "has no dsp64 method");
    return false;
  }
  Dsp& dsp = world().dsp.at(object);
  dsp.perform = nullptr;
  std::vector<short> connected(static_cast<std::size_t>(dsp.inlets + signal_outlets(object)), 1);
  using Dsp64 = void (*)(void*, t_object*, short*, double, long, long);
  reinterpret_cast<Dsp64>(found->second.first)(object, nullptr, connected.data(), sample_rate, vector_size, 0);
  dsp.vector_size = vector_size;
  return dsp.perform != nullptr;
}

std::vector<std::vector<double>> process(void* object, const std::vector<std::vector<double>>& ins) {
  const Dsp& dsp = world().dsp.at(object);
  if (dsp.perform == nullptr || static_cast<int>(ins.size()) != dsp.inlets) std::abort();  // a test's mistake
  const std::size_t length = ins.empty() ? 0 : ins[0].size();
  std::vector<std::vector<double>> outs(static_cast<std::size_t>(signal_outlets(object)), std::vector<double>(length));
  const auto size = static_cast<std::size_t>(dsp.vector_size);
  for (std::size_t start = 0; start + size <= length; start += size) {
    std::vector<std::vector<double>> in_vectors, out_vectors(outs.size(), std::vector<double>(size));
    for (const auto& signal : ins) in_vectors.emplace_back(signal.begin() + start, signal.begin() + start + size);
    std::vector<double*> in_pointers, out_pointers;
    for (auto& v : in_vectors) in_pointers.push_back(v.data());
    for (auto& v : out_vectors) out_pointers.push_back(v.data());
    dsp.perform(static_cast<t_object*>(object), nullptr, in_pointers.data(), static_cast<long>(in_pointers.size()),
                out_pointers.data(), static_cast<long>(out_pointers.size()), dsp.vector_size, dsp.flags, dsp.userparam);
    for (std::size_t k = 0; k < outs.size(); ++k) std::copy(out_vectors[k].begin(), out_vectors[k].end(), outs[k].begin() + start);
  }
  return outs;
}

}  // namespace fake_max

using fake_max::world;

extern "C" {

t_symbol* gensym(const char* s) {
  auto& names = world().names;
  auto found = names.find(s);
  if (found == names.end()) found = names.emplace(s, std::make_unique<std::string>(s)).first;
  t_symbol& symbol = world().symbols[s];
  symbol.s_name = found->second->data();
  return &symbol;
}

void object_post(t_object* x, const char* s, ...) {
  va_list args;
  va_start(args, s);
  fake_max::record(fake_max::Line::post, x, s, args);
  va_end(args);
}

void object_warn(t_object* x, const char* s, ...) {
  va_list args;
  va_start(args, s);
  fake_max::record(fake_max::Line::warn, x, s, args);
  va_end(args);
}

void object_error(t_object* x, const char* s, ...) {
  va_list args;
  va_start(args, s);
  fake_max::record(fake_max::Line::error, x, s, args);
  va_end(args);
}

void* outlet_new(void* x, const char* s) {
  world().outlets.push_back(std::make_unique<fake_max::Outlet>(fake_max::Outlet{x, s != nullptr ? s : ""}));
  return world().outlets.back().get();
}

void* outlet_anything(void* o, t_symbol* s, short ac, t_atom* av) {
  bool live = false;
  for (const auto& outlet : world().outlets) live = live || outlet.get() == o;
  if (!live) std::abort();  // an outlet of a freed object
  fake_max::Output output{s->s_name, {}};
  for (short k = 0; k < ac; ++k) output.values.push_back(atom_getfloat(av + k));
  world().outputs.push_back(std::move(output));
  return nullptr;
}

t_clock* clock_new(void* obj, method fn) {
  auto c = std::make_unique<t_clock>(t_clock{obj, fn});
  t_clock* key = c.get();
  world().clocks[key] = std::move(c);
  return key;
}

void clock_delay(t_clock* x, long) { x->due = true; }
void clock_unset(t_clock* x) { x->due = false; }

t_class* class_new(const char* name, method mnew, method mfree, long size, method, short, ...) {
  auto c = std::make_unique<t_class>(t_class{name, mnew, mfree, size, {}});
  t_class* key = c.get();
  world().classes[name] = std::move(c);
  return key;
}

t_max_err class_addmethod(t_class* c, method m, const char* name, ...) {
  std::vector<int> types;
  va_list args;
  va_start(args, name);
  for (int type = va_arg(args, int); type != A_NOTHING; type = va_arg(args, int)) types.push_back(type);
  va_end(args);
  c->methods[name] = {m, types};
  return 0;
}

t_max_err class_register(t_symbol*, t_class*) { return 0; }

void* object_alloc(t_class* c) {
  void* x = std::calloc(1, static_cast<std::size_t>(c->size));
  world().instances[x] = c;
  return x;
}

t_max_err object_free(void* x) {
  auto& w = world();
  if (const auto it = w.instances.find(x); it != w.instances.end()) {
    reinterpret_cast<void (*)(void*)>(it->second->destroy)(x);
    if (w.dsp.count(x) != 0) std::abort();  // a signal object must leave the DSP chain (dsp_free) in its free
    w.outlets.erase(std::remove_if(w.outlets.begin(), w.outlets.end(),
                                   [x](const auto& outlet) { return outlet->owner == x; }),
                    w.outlets.end());
    w.instances.erase(it);
    std::free(x);
  } else if (!w.clocks.erase(static_cast<t_clock*>(x)) && !w.buffer_refs.erase(static_cast<t_buffer_ref*>(x))) {
    std::abort();  // not something Max handed out
  }
  return 0;
}

long atom_gettype(const t_atom* a) { return a->a_type; }

t_atom_long atom_getlong(const t_atom* a) {
  if (a->a_type == A_LONG) return a->a_w.w_long;
  return a->a_type == A_FLOAT ? static_cast<t_atom_long>(a->a_w.w_float) : 0;
}

t_atom_float atom_getfloat(const t_atom* a) {
  if (a->a_type == A_FLOAT) return a->a_w.w_float;
  return a->a_type == A_LONG ? static_cast<t_atom_float>(a->a_w.w_long) : 0.0;
}

t_symbol* atom_getsym(const t_atom* a) { return a->a_type == A_SYM ? a->a_w.w_sym : gensym(""); }

t_max_err atom_setfloat(t_atom* a, double b) {
  a->a_type = A_FLOAT;
  a->a_w.w_float = b;
  return 0;
}

t_buffer_ref* buffer_ref_new(t_object*, t_symbol* name) {
  auto ref = std::make_unique<t_buffer_ref>(t_buffer_ref{name->s_name});
  t_buffer_ref* key = ref.get();
  world().buffer_refs[key] = std::move(ref);
  return key;
}

void buffer_ref_set(t_buffer_ref* x, t_symbol* name) { x->name = name->s_name; }

t_buffer_obj* buffer_ref_getobject(t_buffer_ref* x) {
  const auto it = world().buffers.find(x->name);
  return it == world().buffers.end() ? nullptr : fake_max::as_object(it->second.get());
}

t_max_err buffer_ref_notify(t_buffer_ref*, t_symbol*, t_symbol*, void*, void*) { return 0; }

float* buffer_locksamples(t_buffer_obj* buffer_object) {
  fake_max::Buffer* buffer = fake_max::as_buffer(buffer_object);
  if (buffer->samples.empty()) return nullptr;
  ++buffer->claims;
  return buffer->samples.data();
}

void buffer_unlocksamples(t_buffer_obj* buffer_object) { --fake_max::as_buffer(buffer_object)->claims; }
t_atom_long buffer_getchannelcount(t_buffer_obj* b) { return fake_max::as_buffer(b)->channels; }
t_atom_long buffer_getframecount(t_buffer_obj* b) { return fake_max::as_buffer(b)->frames; }
t_atom_float buffer_getsamplerate(t_buffer_obj* b) { return fake_max::as_buffer(b)->sample_rate; }

t_max_err buffer_setdirty(t_buffer_obj* buffer_object) {
  ++fake_max::as_buffer(buffer_object)->dirtied;
  return 0;
}

void z_dsp_setup(t_pxobject* x, long nsignals) {
  x->z_count = static_cast<short>(nsignals);
  world().dsp[x].inlets = static_cast<int>(nsignals);
}

void z_dsp_free(t_pxobject* x) { world().dsp.erase(x); }

void class_dspinit(t_class*) {}

void dsp_add64(t_object*, t_object* x, t_perfroutine64 f, long flags, void* userparam) {
  fake_max::Dsp& dsp = world().dsp.at(x);
  dsp.perform = f;
  dsp.flags = flags;
  dsp.userparam = userparam;
}

}  // extern "C"
