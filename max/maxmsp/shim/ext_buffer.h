// Stand-in for the Max SDK's ext_buffer.h: the buffer~ reference API multi_track.cpp uses
// (declared from the public Max API reference). Samples are 32-bit floats, channels interleaved.
#pragma once

#include "ext_obex.h"

typedef struct _buffer_ref t_buffer_ref;
typedef t_object t_buffer_obj;

extern "C" {
t_buffer_ref* buffer_ref_new(t_object* self, t_symbol* name);
void buffer_ref_set(t_buffer_ref* x, t_symbol* name);
t_buffer_obj* buffer_ref_getobject(t_buffer_ref* x);
t_max_err buffer_ref_notify(t_buffer_ref* x, t_symbol* s, t_symbol* msg, void* sender, void* data);

float* buffer_locksamples(t_buffer_obj* buffer_object);
void buffer_unlocksamples(t_buffer_obj* buffer_object);
t_atom_long buffer_getchannelcount(t_buffer_obj* buffer_object);
t_atom_long buffer_getframecount(t_buffer_obj* buffer_object);
t_atom_float buffer_getsamplerate(t_buffer_obj* buffer_object);
t_max_err buffer_setdirty(t_buffer_obj* buffer_object);
}
