// Stand-in for the Max SDK's ext.h: the types, console, outlet, clock and assist declarations the
// externals use, declared from the public Max API reference (no SDK code). Real builds use the SDK's header.
#pragma once

#if defined(_WIN32)
#define C74_EXPORT __declspec(dllexport)
#else
#define C74_EXPORT __attribute__((visibility("default")))
#endif

typedef long long t_atom_long;  // the SDK's is 64-bit too (long on macOS, long long on Windows)
typedef double t_atom_float;
typedef t_atom_long t_max_err;
typedef void* (*method)(void*, ...);

// Objects start with a t_object; its layout is Max's business, the shim only reserves room.
typedef struct object {
  void* reserved[8];
} t_object;

typedef struct symbol {
  char* s_name;
  t_object* s_thing;
} t_symbol;

// Atom and method-argument types.
enum e_max_atomtypes { A_NOTHING = 0, A_LONG = 1, A_FLOAT = 2, A_SYM = 3, A_GIMME = 8, A_CANT = 9 };

union word {
  t_atom_long w_long;
  t_atom_float w_float;
  t_symbol* w_sym;
  t_object* w_obj;
};

typedef struct atom {
  short a_type;
  union word a_w;
} t_atom;

typedef struct clock t_clock;

// What an assist method describes (ext_assist.h), and how long its text may be.
enum t_assist_function { ASSIST_INLET = 1, ASSIST_OUTLET };
enum { ASSIST_MAX_STRING_LEN = 500 };

extern "C" {
t_symbol* gensym(const char* s);

void object_post(t_object* x, const char* s, ...);
void object_warn(t_object* x, const char* s, ...);
void object_error(t_object* x, const char* s, ...);

void* outlet_new(void* x, const char* s);
void* outlet_anything(void* o, t_symbol* s, short ac, t_atom* av);

t_clock* clock_new(void* obj, method fn);
void clock_delay(t_clock* x, long n);
void clock_unset(t_clock* x);
}
