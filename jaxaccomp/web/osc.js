// OSC 1.0 packets as docs/protocol.md describes them: big-endian, every part padded to 4 bytes.
// The page sends and reads the same bytes a UDP client would; one WebSocket frame is one packet.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const pad4 = (n) => (n + 3) & ~3;

function stringSize(text) {
  return pad4(encoder.encode(text).length + 1);
}

// One message. `args` is a list of [tag, value]: i (int32), h (int64, a Number), d (float64),
// s (string), T (true, no bytes) or b (a Float32Array sent as a blob of big-endian float32).
export function encodeMessage(address, args = []) {
  const tags = "," + args.map(([tag]) => tag).join("");
  let size = stringSize(address) + stringSize(tags);
  for (const [tag, value] of args) {
    size += { i: 4, h: 8, d: 8, T: 0 }[tag] ?? (tag === "s" ? stringSize(value) : 4 + pad4(4 * value.length));
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let pos = 0;
  const putString = (text) => {
    const encoded = encoder.encode(text);
    bytes.set(encoded, pos);
    pos += pad4(encoded.length + 1);
  };
  putString(address);
  putString(tags);
  for (const [tag, value] of args) {
    if (tag === "i") { view.setInt32(pos, value); pos += 4; }
    else if (tag === "h") { view.setBigInt64(pos, BigInt(value)); pos += 8; }
    else if (tag === "d") { view.setFloat64(pos, value); pos += 8; }
    else if (tag === "s") { putString(value); }
    else if (tag === "b") {
      view.setInt32(pos, 4 * value.length); pos += 4;
      for (let k = 0; k < value.length; k++, pos += 4) view.setFloat32(pos, value[k]);
    }
  }
  return bytes.buffer;
}

// A message from an ArrayBuffer: {address, args} with numbers, strings, true and Float32Array blobs,
// or null for a bundle (only the packet test answers with one) or a packet this page cannot read.
export function decodeMessage(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let pos = 0;
  const getString = () => {
    const end = bytes.indexOf(0, pos);
    if (end < 0) throw new Error("unterminated string");
    const text = decoder.decode(bytes.subarray(pos, end));
    pos = pad4(end + 1);
    return text;
  };
  try {
    if (bytes[0] !== 0x2f) return null; // "/": a message, not a bundle
    const address = getString();
    const tags = pos < bytes.length ? getString().slice(1) : "";
    const args = [];
    for (const tag of tags) {
      if (tag === "i") { args.push(view.getInt32(pos)); pos += 4; }
      else if (tag === "h") { args.push(Number(view.getBigInt64(pos))); pos += 8; }
      else if (tag === "f") { args.push(view.getFloat32(pos)); pos += 4; }
      else if (tag === "d") { args.push(view.getFloat64(pos)); pos += 8; }
      else if (tag === "s") { args.push(getString()); }
      else if (tag === "T") { args.push(true); }
      else if (tag === "F") { args.push(false); }
      else if (tag === "b") {
        const size = view.getInt32(pos); pos += 4;
        const samples = new Float32Array(size / 4);
        for (let k = 0; k < samples.length; k++) samples[k] = view.getFloat32(pos + 4 * k);
        args.push(samples); pos += pad4(size);
      } else return null;
    }
    return { address, args };
  } catch {
    return null;
  }
}
