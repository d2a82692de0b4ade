// The audio thread: the step clock, the tracks and the placement rules of the Max external
// (docs/protocol.md, "What the reference client does per step"), as the Python client applies them:
//   - the step clock ticks when the playhead reaches a multiple of the step: the block just played
//     goes to the page as the batch's context, and each generated track's content zone
//     [curr + w step, + step) is cleared, so a lost reply plays silence;
//   - a reply chunk is written at the position the server sent, or at its batch's own write origin
//     plus its index times the package size (the page works that out), with one linear crossfade
//     over the lead-in from the batch's origin (only the old audio fades when the server pre-ramps);
//   - samples that arrive after the playhead passed them are late: counted, not written, so the
//     tracks hold exactly what was heard. Stale batches never reach this thread.
// Latency compensation (the microphone): what you play reaches this thread `compensation` samples
// after you played it (input latency) and what it plays reaches you that much later again (output
// latency), so the generated tracks are played that many samples early; the look-ahead leaves room.
// Stop with the band: the generated tracks play through jaxaccomp/stop_gate.py's gate, keyed by the
// input (silent while the band is), unless the page turns it off. With latency compensation the gate
// acts that many samples later on the timeline, as the input does. The recording keeps what was heard.
// Everything is kept on the input's timeline (input, each generated track, their mix) and handed over
// at the end.

const BLOCK = 1 << 16; // samples per storage block of a track
const METER_COLUMN = 512; // samples per column of the scrolling view

class StopGate {
  // The gate of jaxaccomp/stop_gate.py (constants and definition there; docs/streaming.md), sample by
  // sample: next(band) is the gain for this timeline sample, then the band's sample is heard.
  constructor(rate) {
    const blocks = (seconds) => Math.max(1, Math.floor(seconds * rate / StopGate.BLOCK + 0.5));
    this.hold = blocks(0.25); // HOLD_S
    this.levels = new Float64Array(blocks(5.0)); // REFERENCE_S of block levels, a ring
    this.release = StopGate.BLOCK / (0.1 * rate); // RELEASE_S
    this.heard = 0; this.position = 0; this.squares = 0; this.before = 0; this.latest = 0;
  }
  next(band) {
    const gain = this.before + (this.latest - this.before) * (this.position + 1) / StopGate.BLOCK;
    this.squares += band * band;
    if (++this.position === StopGate.BLOCK) this.decide();
    return Math.fround(gain);
  }
  decide() {
    const size = this.levels.length;
    this.levels[this.heard % size] = 10 * Math.log10(this.squares / StopGate.BLOCK + 1e-12);
    this.heard += 1;
    let recent = -Infinity, loudest = -Infinity;
    for (let back = 0; back < Math.min(this.heard, size); back++) {
      const level = this.levels[(this.heard - 1 - back) % size];
      loudest = Math.max(loudest, level);
      if (back < this.hold) recent = Math.max(recent, level);
    }
    const open = recent > Math.max(loudest - 30, -70); // DROP_DB, FLOOR_DB
    const target = open ? Math.pow(10, -3 * Math.max(0, loudest - recent - 6) / 20) : 0; // FOLLOW_SLOPE, FOLLOW_DB
    this.before = this.latest;
    this.latest = target >= this.latest ? target : Math.max(target, this.latest - this.release);
    this.position = 0; this.squares = 0;
  }
}
StopGate.BLOCK = 512;

class Track {
  // A mono track addressed by timeline sample, grown block by block; unwritten samples are 0.
  constructor() { this.blocks = []; }
  get(t) { const block = this.blocks[t >> 16]; return block ? block[t & (BLOCK - 1)] : 0; }
  set(t, value) {
    let block = this.blocks[t >> 16];
    if (!block) block = this.blocks[t >> 16] = new Float32Array(BLOCK);
    block[t & (BLOCK - 1)] = value;
  }
  clear(from, to) { for (let t = from; t < to; t++) if (this.blocks[t >> 16]) this.blocks[t >> 16][t & (BLOCK - 1)] = 0; }
  slice(from, to) {
    const out = new Float32Array(Math.max(0, to - from));
    for (let t = from; t < to; t++) out[t - from] = this.get(t);
    return out;
  }
}

class StreamProcessor extends AudioWorkletProcessor {
  constructor({ processorOptions: o }) {
    super();
    this.step = o.step; this.contentOffset = o.contentOffset; this.fade = o.fade; this.ramped = o.ramped;
    this.file = o.file; this.steps = o.steps; this.end = o.end; // a file: steps to send, samples to play
    this.compensation = o.compensation; // samples the generated tracks are played early
    this.t = 0; this.sent = 0; this.late = 0; this.written = 0; this.running = true;
    this.input = new Track(); this.mix = new Track(); this.gains = new Track(); // the gate's, per timeline sample
    this.gate = o.stopGate ? new StopGate(sampleRate) : null;
    this.tracks = o.stems.map(() => new Track());
    this.levels = { input: o.inputLevel, stems: o.stems.map(() => 1) };
    this.column = { inMin: 0, inMax: 0, genMin: 0, genMax: 0, n: 0 };
    this.columns = []; this.peaks = { input: 0, stems: o.stems.map(() => 0) };
    this.port.onmessage = ({ data }) => {
      if (data.type === "reply") this.place(data);
      else if (data.type === "levels") this.levels = data.levels;
      else if (data.type === "compensation") this.compensation = data.samples;
      else if (data.type === "stop") this.finish();
    };
  }

  place({ track, start, origin, samples }) {
    const late = Math.min(Math.max(this.t + this.compensation - start, 0), samples.length); // already played
    const span = this.ramped ? this.fade - 1 : this.fade;
    const target = this.tracks[track];
    for (let j = late; j < samples.length; j++) {
      const t = start + j;
      if (t < 0) continue;
      const weight = span > 0 ? Math.min(Math.max((t - origin) / span, 0), 1) : 1;
      const fresh = this.ramped ? samples[j] : samples[j] * weight;
      target.set(t, target.get(t) * (1 - weight) + fresh);
    }
    this.late += late; this.written += samples.length - late;
    this.port.postMessage({ type: "placed", late: this.late, written: this.written });
  }

  tick(curr) {
    // One step at playback position curr: clear the content zones still to be played, send the block.
    const from = Math.max(curr + this.contentOffset, curr + this.compensation);
    for (const track of this.tracks) track.clear(from, curr + this.contentOffset + this.step);
    this.sent += 1;
    const block = this.input.slice(curr - this.step, curr);
    this.port.postMessage({ type: "context", curr, block }, [block.buffer]);
  }

  finish() {
    if (!this.running) return;
    this.running = false;
    const heard = (track) => {
      const samples = track.slice(0, this.t);
      if (this.gate) for (let t = 0; t < samples.length; t++) samples[t] *= this.gains.get(t);
      return samples;
    };
    const recording = { input: this.input.slice(0, this.t), mix: this.mix.slice(0, this.t),
                        stems: this.tracks.map(heard) };
    const buffers = [recording.input.buffer, recording.mix.buffer, ...recording.stems.map((s) => s.buffer)];
    this.port.postMessage({ type: "ended", recording, late: this.late }, buffers);
  }

  process(inputs, outputs) {
    if (!this.running) return false;
    const out = outputs[0];
    const mic = inputs[0] && inputs[0].length ? inputs[0] : null;
    const frames = out[0].length;
    for (let i = 0; i < frames; i++) {
      const t = this.t + i;
      let x = 0;
      if (this.file) x = t < this.file.length ? this.file[t] : 0;
      else if (mic) { for (const channel of mic) x += channel[i]; x /= mic.length; }
      this.input.set(t, x);
      const gain = this.gate ? this.gate.next(x) : 1; // for the track sample played now
      if (this.gate) this.gains.set(t + this.compensation, gain);
      const alignedGain = this.gate ? this.gains.get(t) : 1;
      let heard = x * this.levels.input, mixed = heard, generated = 0;
      for (let s = 0; s < this.tracks.length; s++) {
        const now = this.tracks[s].get(t + this.compensation) * gain, aligned = this.tracks[s].get(t) * alignedGain;
        heard += now * this.levels.stems[s]; mixed += aligned * this.levels.stems[s]; generated += aligned;
        this.peaks.stems[s] = Math.max(this.peaks.stems[s], Math.abs(now));
      }
      this.peaks.input = Math.max(this.peaks.input, Math.abs(x));
      this.mix.set(t, mixed);
      for (const channel of out) channel[i] = heard;
      this.meter(x, generated);
      if ((t + 1) % this.step === 0 && (this.steps === 0 || this.sent < this.steps)) this.tick(t + 1);
    }
    this.t += frames;
    if (this.end && this.t >= this.end) this.finish();
    return true;
  }

  meter(x, generated) {
    const c = this.column;
    c.inMin = Math.min(c.inMin, x); c.inMax = Math.max(c.inMax, x);
    c.genMin = Math.min(c.genMin, generated); c.genMax = Math.max(c.genMax, generated);
    if (++c.n < METER_COLUMN) return;
    this.columns.push([c.inMin, c.inMax, c.genMin, c.genMax]);
    this.column = { inMin: 0, inMax: 0, genMin: 0, genMax: 0, n: 0 };
    if (this.columns.length >= 4) {
      this.port.postMessage({ type: "meter", t: this.t, columns: this.columns, peaks: this.peaks });
      this.columns = []; this.peaks = { input: 0, stems: this.tracks.map(() => 0) };
    }
  }
}

registerProcessor("jaxaccomp-stream", StreamProcessor);
