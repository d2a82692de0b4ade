// Stand-in for the Max SDK's z_dsp.h: the MSP object header and the 64-bit DSP calls that
// stop_gate_tilde.cpp uses (declared from the public Max API reference). Real builds use the SDK's.
#pragma once

#include "ext_obex.h"

// Every signal object starts with a t_pxobject instead of a t_object.
typedef struct t_pxobject {
  struct object z_ob;
  long z_in;
  void* z_proxy;
  long z_disabled;  // set by Max while the object is muted
  short z_count;    // the number of signal inlets
  short z_misc;     // flags such as Z_NO_INPLACE
} t_pxobject;

#define Z_NO_INPLACE 1  // the object's outlets never share memory with its inlets

// The routine Max calls for each signal vector: ins[k] and outs[k] hold `sampleframes` samples.
typedef void (*t_perfroutine64)(t_object* x, t_object* dsp64, double** ins, long numins, double** outs,
                                long numouts, long sampleframes, long flags, void* userparam);

extern "C" {
void z_dsp_setup(t_pxobject* x, long nsignals);  // in the object's new: its signal inlets
void z_dsp_free(t_pxobject* x);                  // first thing in the object's free
void class_dspinit(t_class* c);                  // before class_register
void dsp_add64(t_object* chain, t_object* x, t_perfroutine64 f, long flags, void* userparam);
}

#define dsp_setup z_dsp_setup
#define dsp_free z_dsp_free
