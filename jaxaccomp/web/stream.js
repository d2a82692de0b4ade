// The page's side of the protocol (docs/protocol.md), as the Python client's ClientCore does it:
// the hello handshake, the Max external's set-up messages and /reset, each batch's /context chunks
// with blobs and positions, and the replies: stale batches ignored, chunks handed to the audio
// thread with the position to write them at, round trips, drops and busy answers counted.

import { decodeMessage, encodeMessage } from "./osc.js";

export const STEMS = ["bass", "drums", "guitar", "piano"];
export const SAMPLE_RATE = 44100;
const PACKAGE_SIZE = 8192; // floats per /context chunk: 32 KiB frames, under any datagram limit
const KEEP = 2; // replies of the current and the previous batch are placed, as the external does

export class Connection {
  // A WebSocket to the page's own server; `on(name, handler)` for "message", "close".
  constructor(url) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.handlers = {};
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = resolve;
      this.socket.onerror = () => reject(new Error("cannot reach the server"));
    });
    this.socket.onmessage = ({ data }) => {
      const message = typeof data === "string" ? null : decodeMessage(data);
      if (message) this.handlers.message?.(message);
    };
    this.socket.onclose = (event) => this.handlers.close?.(event);
  }
  on(name, handler) { this.handlers[name] = handler; }
  send(address, args) { if (this.socket.readyState === WebSocket.OPEN) this.socket.send(encodeMessage(address, args)); }
  close() { this.socket.close(); }
}

export class Stream {
  // One stream: `settings` = {stems, r, w, fade, window}; `worklet` is the audio thread's port.
  constructor(connection, settings, worklet) {
    this.connection = connection; this.settings = settings; this.worklet = worklet;
    this.step = Math.floor(settings.r * settings.window);
    this.contentOffset = Math.trunc(settings.w * settings.r * settings.window);
    this.fadeSamples = Math.round(settings.fade * SAMPLE_RATE);
    this.batchId = 0; this.replies = new Map(); this.ramped = true;
    this.stats = { batches: 0, complete: 0, dropped: 0, stale: 0, roundTrips: [] };
  }

  setup(capabilities) {
    // The external's load_model messages, then a fresh stream at sample 0.
    const s = this.settings;
    this.ramped = capabilities.includes("ramped");
    this.connection.send("/update_package_size", [["i", PACKAGE_SIZE]]);
    this.connection.send("/update_r", [["d", s.r]]);
    this.connection.send("/w", [["d", s.w]]);
    this.connection.send("/update_fade", [["d", s.fade]]);
    this.connection.send("/predict_instruments", STEMS.map((stem) => ["i", s.stems.includes(stem) ? 1 : 0]));
    this.connection.send("/load_model", []);
    this.connection.send("/reset", [["i", 1]]);
  }

  predict(curr, block) {
    // The step at playback position curr: remember where its reply goes, send [curr - step, curr).
    this.batchId += 1;
    this.replies.set(this.batchId, { writeStart: curr + this.contentOffset - this.fadeSamples,
                                     sentAt: performance.now(), chunks: {}, expected: {}, done: false });
    for (const id of this.replies.keys()) if (id <= this.batchId - KEEP) this.replies.delete(id);
    this.stats.batches += 1;
    const start = curr - this.step;
    const total = Math.ceil(block.length / PACKAGE_SIZE);
    for (let offset = 0; offset < block.length; offset += PACKAGE_SIZE) {
      const chunk = block.subarray(offset, offset + PACKAGE_SIZE);
      this.connection.send("/context", [["i", this.batchId], ["i", offset], ["i", total], ["h", start + offset],
                                        ["b", chunk]]);
    }
  }

  receive({ address, args }) {
    const stem = address.slice(1);
    if (this.settings.stems.includes(stem) && args.length >= 4) this.chunk(stem, args);
    else if (address === "/server_predicted") this.predicted();
    else if (address === "/batch_dropped") {
      const reply = this.replies.get(args[0]);
      if (reply && !reply.dropped) { reply.dropped = true; this.stats.dropped += 1; }
    }
  }

  chunk(stem, [batch, index, total, ...rest]) {
    const reply = this.replies.get(batch);
    if (!reply) { this.stats.stale += 1; return; } // older than the kept batches: never written
    const positioned = typeof rest[0] === "number" && rest[1] instanceof Float32Array;
    const samples = positioned ? rest[1] : rest[0] instanceof Float32Array ? rest[0] : Float32Array.from(rest);
    const start = positioned ? rest[0] : reply.writeStart + index * PACKAGE_SIZE;
    this.worklet.postMessage({ type: "reply", track: this.settings.stems.indexOf(stem), start,
                               origin: reply.writeStart, samples }, [samples.buffer]);
    reply.chunks[stem] = (reply.chunks[stem] ?? 0) + 1;
    reply.expected[stem] = total;
  }

  predicted() {
    // /server_predicted names no batch: it closes the newest reply that got chunks.
    const open = [...this.replies.values()].reverse().find((reply) => Object.keys(reply.chunks).length && !reply.done);
    if (!open) return;
    open.done = true;
    this.stats.roundTrips.push(performance.now() - open.sentAt);
    const stems = this.settings.stems;
    if (stems.every((stem) => (open.chunks[stem] ?? 0) >= (open.expected[stem] ?? Infinity))) this.stats.complete += 1;
  }
}
