// The page: connect, pick what you play and what the model plays, stream, watch, record.
// The protocol is stream.js's, the audio thread worklet.js's; this module wires them to the controls.

import { Connection, SAMPLE_RATE, STEMS, Stream } from "./stream.js";
import { wavBlob } from "./wav.js";

const $ = (id) => document.getElementById(id);
const FADE = 0.02; // seconds of crossfade, the Max external's default
const VIEW_COLUMN = 512; // samples per column of the scrolling view (worklet.js draws them)

const page = { connection: null, hello: null, stream: null, context: null, node: null, file: null,
               late: 0, state: "connecting", columns: [], stopTimer: null };
window.jaxaccomp = page; // read by the browser tests, and handy in the console

function setState(state, text) {
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) $("status").textContent = text;
  $("start").disabled = !(state === "ready" || state === "ended");
  $("stop").disabled = state !== "streaming";
  $("reconnect").hidden = state !== "closed" && state !== "busy";
}

function connect() {
  const connection = new Connection(`ws://${location.host}/ws`);
  page.connection = connection;
  setState("connecting", "connecting…");
  connection.on("message", (message) => {
    if (message.address === "/ready") connection.send("/hello", []);
    else if (message.address === "/hello_reply") hello(message.args);
    else if (message.address === "/busy") setState("busy", `the server is busy: ${message.args[0]}`);
    else if (message.address === "/stats_reply") stats(message.args);
    else page.stream?.receive(message);
  });
  connection.on("close", (event) => {
    if (page.connection !== connection) return;
    if (page.state === "streaming") stop();
    const why = event.reason || "the connection to the server closed";
    setState(event.code === 1013 ? "busy" : "closed", event.code === 1013 ? `the server is busy: ${why}` : why);
  });
  connection.opened.catch((error) => setState("closed", error.message));
}

function hello([server, protocol, rate, window, ...capabilities]) {
  if (rate !== SAMPLE_RATE || !capabilities.includes("blob") || !capabilities.includes("position")) {
    setState("error", `this page needs a jaxaccomp server at ${SAMPLE_RATE} Hz with blobs and positions`);
    return;
  }
  page.hello = { server, protocol, window, capabilities };
  $("server").textContent = `${server}, protocol ${protocol}, ${(window / SAMPLE_RATE).toFixed(1)} s context`;
  $("mode").textContent = server.match(/\(([^,)]+)/)?.[1] ?? "?";
  setState("ready", "ready: pick what you play and press Start");
}

function stats(args) {
  const values = {};
  for (let k = 0; k + 1 < args.length; k += 2) values[args[k]] = args[k + 1];
  if (values.median_total_ms !== undefined) {
    $("cycle").textContent = `${values.median_total_ms.toFixed(0)} / ${values.step_budget_ms.toFixed(0)} ms`;
  }
}

async function chooseFile() {
  // Decode the chosen file now, so a file that is not audio is said at once, not at Start.
  const chosen = $("file").files[0];
  page.file = null;
  if (!chosen) return;
  document.querySelector('input[name="source"][value="file"]').checked = true;
  try {
    const decoder = new OfflineAudioContext(1, 1, SAMPLE_RATE);
    const audio = await decoder.decodeAudioData(await chosen.arrayBuffer());
    const mono = new Float32Array(audio.length);
    for (let c = 0; c < audio.numberOfChannels; c++) {
      const channel = audio.getChannelData(c);
      for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / audio.numberOfChannels;
    }
    page.file = { name: chosen.name, samples: mono };
    if (page.state !== "streaming") setState(page.state === "error" ? "ready" : page.state,
                                            `${chosen.name}: ${(mono.length / SAMPLE_RATE).toFixed(1)} s, press Start`);
  } catch {
    setState("error", `${chosen.name} is not an audio file this browser can read`);
    page.state = "ready"; $("start").disabled = false;
  }
}

function settings() {
  const stems = [...document.querySelectorAll('input[name="stem"]:checked')].map((box) => box.value);
  return { stems, r: Number($("r").value), w: Number($("w").value), fade: FADE, window: page.hello.window };
}

async function start() {
  const s = settings();
  const source = document.querySelector('input[name="source"]:checked').value;
  if (!s.stems.length) return setState("ready", "choose at least one instrument for the model to play");
  if ((s.w + 2) * s.r > 1) return setState("ready", `w = ${s.w} and r = ${s.r} do not fit one window: (w+2)·r must be at most 1`);
  if (source === "file" && !page.file) return setState("ready", "choose an audio file first (or the microphone)");
  $("downloads").replaceChildren();
  const context = page.context ?? (page.context = new AudioContext({ sampleRate: SAMPLE_RATE }));
  await context.resume();
  let microphone = null;
  if (source === "mic") {
    try {
      microphone = await navigator.mediaDevices.getUserMedia(
        { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (error) {
      return setState("ready", `no microphone: ${error.message}`);
    }
  }
  page.workletLoaded ??= context.audioWorklet.addModule("worklet.js");
  await page.workletLoaded;
  const stream = new Stream(page.connection, s, null);
  const file = source === "file" ? page.file.samples : null;
  const steps = file ? Math.max(1, Math.ceil(file.length / stream.step) - s.w - 1) : 0; // as the Python client
  if (microphone && !$("compensation").dataset.edited) $("compensation").value = measuredLatency(context, microphone);
  const compensation = microphone ? Math.round(Number($("compensation").value) * SAMPLE_RATE / 1000) : 0;
  const end = file ? Math.max(file.length, (steps + 1 + s.w) * stream.step) : 0;
  const node = new AudioWorkletNode(context, "jaxaccomp-stream", {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [2],
    processorOptions: { step: stream.step, contentOffset: stream.contentOffset, fade: stream.fadeSamples,
                        ramped: page.hello.capabilities.includes("ramped"), stems: s.stems, file, steps, end,
                        compensation, stopGate: $("stop-gate").checked,
                        inputLevel: file ? 1 : 0 } });
  stream.worklet = node.port;
  page.stream = stream; page.node = node; page.source = source; page.late = 0; page.columns = [];
  node.port.onmessage = ({ data }) => worklet(data, microphone);
  if (microphone) context.createMediaStreamSource(microphone).connect(node);
  node.connect(context.destination);
  stream.setup(page.hello.capabilities);
  buildLevels(s.stems, file ? 1 : 0);
  setState("streaming", file ? `playing ${page.file.name} with the model's ${s.stems.join(", ")}`
                             : `listening to the microphone; the model plays ${s.stems.join(", ")}`);
  page.stopTimer = setInterval(() => { showTelemetry(); page.connection.send("/stats", []); }, 500);
}

function measuredLatency(context, microphone) {
  // Milliseconds from playing a note to hearing what answers it: the input's latency (where the
  // browser reports it) and the output's.
  const input = microphone.getAudioTracks()[0]?.getSettings().latency ?? 0;
  return Math.round(1000 * (input + (context.baseLatency ?? 0) + (context.outputLatency ?? 0)));
}

function setCompensation() {
  $("compensation").dataset.edited = "yes";
  const samples = Math.round(Math.max(0, Number($("compensation").value)) * SAMPLE_RATE / 1000);
  if (page.state === "streaming" && page.source === "mic") page.node.port.postMessage({ type: "compensation", samples });
}

function worklet(data, microphone) {
  if (data.type === "context") page.stream.predict(data.curr, data.block);
  else if (data.type === "placed") page.late = data.late;
  else if (data.type === "meter") meter(data);
  else if (data.type === "ended") ended(data, microphone);
}

function stop() {
  page.node?.port.postMessage({ type: "stop" });
}

function ended({ recording, late }, microphone) {
  clearInterval(page.stopTimer);
  microphone?.getTracks().forEach((track) => track.stop());
  page.node.disconnect();
  page.late = late; page.recording = recording;
  showTelemetry();
  const links = [["session-mix.wav", wavBlob([recording.mix], SAMPLE_RATE), "the mix as you heard it"],
                 ["session-tracks.wav", wavBlob([recording.input, ...recording.stems], SAMPLE_RATE),
                  `tracks: input, ${page.stream.settings.stems.join(", ")}`]];
  $("downloads").replaceChildren(...links.map(([name, blob, what]) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob); link.download = name; link.textContent = `download ${name}`;
    link.title = what;
    return link;
  }));
  setState("ended", `stopped after ${(recording.mix.length / SAMPLE_RATE).toFixed(1)} s: download the recording below`);
}

function buildLevels(stems, inputLevel) {
  const rows = [["input", inputLevel], ...stems.map((stem) => [stem, 1])].flatMap(([name, level]) => {
    const label = document.createElement("label"); label.textContent = name; label.htmlFor = `level-${name}`;
    const slider = Object.assign(document.createElement("input"),
                                 { type: "range", min: 0, max: 1.5, step: 0.01, value: level, id: `level-${name}` });
    slider.addEventListener("input", sendLevels);
    const bar = Object.assign(document.createElement("meter"), { min: -60, max: 0, low: -18, high: -3, value: -60,
                                                                 id: `meter-${name}` });
    return [label, slider, bar];
  });
  $("levels").replaceChildren(...rows);
}

function sendLevels() {
  const level = (name) => Number($(`level-${name}`).value);
  page.node?.port.postMessage({ type: "levels", levels: { input: level("input"),
                                                          stems: page.stream.settings.stems.map(level) } });
}

function meter({ columns, peaks }) {
  const db = (peak) => Math.max(-60, 20 * Math.log10(peak + 1e-9));
  $("meter-input").value = db(peaks.input);
  page.stream.settings.stems.forEach((stem, k) => { $(`meter-${stem}`).value = db(peaks.stems[k]); });
  const canvas = $("view");
  page.columns.push(...columns);
  page.columns.splice(0, Math.max(0, page.columns.length - canvas.width));
  requestAnimationFrame(draw);
}

function draw() {
  const canvas = $("view"), g = canvas.getContext("2d"), half = canvas.height / 2;
  g.clearRect(0, 0, canvas.width, canvas.height);
  const x0 = canvas.width - page.columns.length;
  page.columns.forEach(([inMin, inMax, genMin, genMax], k) => {
    g.fillStyle = "#8fb3ff";
    g.fillRect(x0 + k, half / 2 - inMax * half / 2, 1, Math.max(1, (inMax - inMin) * half / 2));
    g.fillStyle = "#7fdc9c";
    g.fillRect(x0 + k, 1.5 * half - genMax * half / 2, 1, Math.max(1, (genMax - genMin) * half / 2));
  });
  g.fillStyle = "#c9ccd3"; g.font = "12px system-ui";
  g.fillText("input", 6, 14); g.fillText("generated", 6, half + 14);
  g.fillText(`${(canvas.width * VIEW_COLUMN / SAMPLE_RATE).toFixed(0)} s`, canvas.width - 30, canvas.height - 6);
}

function showTelemetry() {
  const st = page.stream?.stats;
  if (!st) return;
  const trips = [...st.roundTrips].sort((a, b) => a - b);
  $("round-trip").textContent = trips.length ? `${trips[Math.floor(trips.length / 2)].toFixed(0)} ms` : "–";
  $("late").textContent = String(page.late);
  $("dropped").textContent = String(st.dropped);
  $("batches").textContent = `${st.complete} / ${st.batches}`;
}

$("file").addEventListener("change", chooseFile);
$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
$("reconnect").addEventListener("click", connect);
$("compensation").addEventListener("change", setCompensation);
draw();
connect();
