// Stand-in for the Max SDK's ext_obex.h: classes, object life cycle and atoms, as multi_track.cpp
// uses them (declared from the public Max API reference).
#pragma once

#include "ext.h"

typedef struct maxclass t_class;

#define CLASS_BOX gensym("box")

extern "C" {
t_class* class_new(const char* name, method mnew, method mfree, long size, method mmenu, short type, ...);
t_max_err class_addmethod(t_class* c, method m, const char* name, ...);
t_max_err class_register(t_symbol* name_space, t_class* c);

void* object_alloc(t_class* c);
t_max_err object_free(void* x);

long atom_gettype(const t_atom* a);
t_atom_long atom_getlong(const t_atom* a);
t_atom_float atom_getfloat(const t_atom* a);
t_symbol* atom_getsym(const t_atom* a);
t_max_err atom_setfloat(t_atom* a, double b);
}
