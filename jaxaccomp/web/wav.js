// WAV files of float32 samples (WAVE_FORMAT_IEEE_FLOAT), one channel per track, for the download links.

export function wavBlob(channels, sampleRate) {
  const frames = channels[0].length, count = channels.length;
  const dataSize = 4 * frames * count;
  const view = new DataView(new ArrayBuffer(44 + dataSize));
  const text = (pos, s) => [...s].forEach((c, k) => view.setUint8(pos + k, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + dataSize, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 3, true); view.setUint16(22, count, true);
  view.setUint32(24, sampleRate, true); view.setUint32(28, 4 * count * sampleRate, true);
  view.setUint16(32, 4 * count, true); view.setUint16(34, 32, true);
  text(36, "data"); view.setUint32(40, dataSize, true);
  let pos = 44;
  for (let i = 0; i < frames; i++) for (const channel of channels) { view.setFloat32(pos, channel[i], true); pos += 4; }
  return new Blob([view.buffer], { type: "audio/wav" });
}
