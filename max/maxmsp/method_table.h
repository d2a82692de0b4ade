// A Max class and its method table, filled as `add(handler, "selector", A_LONG)`: the casts to Max's
// untyped `method` and the terminating 0 in one place (tests/test_maxpat.py reads the selectors).
#pragma once

#include "ext_obex.h"

// A box class whose new takes A_GIMME arguments, `size` bytes an instance.
template <typename Make, typename Destroy>
t_class* box_class(const char* name, Make make, Destroy destroy, long size) {
  return class_new(name, reinterpret_cast<method>(make), reinterpret_cast<method>(destroy), size, nullptr, A_GIMME, 0);
}

// The `add` of class `c`'s method table.
inline auto method_adder(t_class* c) {
  return [c](auto handler, const char* name, auto... types) {
    class_addmethod(c, reinterpret_cast<method>(handler), name, types..., 0);
  };
}
