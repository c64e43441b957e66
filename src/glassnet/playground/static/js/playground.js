// The 2-D playground: controls mirror one state object (and the URL); the server trains with glassnet
// and streams frames (heatmaps of every unit and of the output, weights, losses, gradient norms).
import { api, bytes, CLASS_COLOURS, clearError, diverging, el, fmt, guarded, nav, paint, rgb, showError, tooltip } from "./common.js";
import * as draw from "./labdraw.js";

nav("playground");
const tip = tooltip();
const $ = (id) => document.getElementById(id);

const CHOICES = {
  learning_rate: [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
  activation: ["tanh", "relu", "sigmoid", "linear", "leaky_relu", "softplus", "softsign", "swish"],
  regularization: ["none", "l1", "l2"],
  reg_rate: [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
  problem: ["classification", "regression"],
  loss: ["cross_entropy", "mse"],
  optimizer: ["sgd", "momentum", "adam"],
};
const LABELS = { cross_entropy: "cross-entropy", mse: "quadratic (MSE)", sgd: "SGD", momentum: "SGD + momentum 0.9",
  adam: "Adam", l1: "L1", l2: "L2", none: "none", leaky_relu: "leaky ReLU", relu: "ReLU" };
const FEATURE_LABELS = { x1: "x₁", x2: "x₂", x1sq: "x₁²", x2sq: "x₂²", x1x2: "x₁x₂", sinx1: "sin x₁", sinx2: "sin x₂" };
const ALL_FEATURES = Object.keys(FEATURE_LABELS);
const DATASETS = { classification: ["circle", "xor", "gauss", "spiral", "moons", "custom"], regression: ["plane", "gauss", "custom"] };
const MAX_CLASSES = { circle: 2, xor: 2, gauss: 5, spiral: 5, moons: 2, custom: 5 };

const PLAY_ICON = '<svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true"><path d="M6 4l10 6-10 6z" fill="currentColor"/></svg>';
const PAUSE_ICON = '<svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true"><rect x="5" y="4" width="3.5" height="12" fill="currentColor"/><rect x="11.5" y="4" width="3.5" height="12" fill="currentColor"/></svg>';

let sid = null;
let state = null;
let frame = { structure: -1 };
let extras = null;
let history = { epoch: [], train_loss: [], test_loss: [], grad_norm: [] };
let stream = null;
let addClass = null; // class of the points a click adds, or null

// ------------------------------------------------------------------ URL <-> state
function stateFromURL() {
  const params = new URLSearchParams(location.hash.slice(1));
  const out = {};
  for (const [k, v] of params) {
    if (k === "hidden") out[k] = v === "" ? [] : v.split(",").map(Number);
    else if (k === "features") out[k] = v === "" ? [] : v.split(",");
    else if (v === "true" || v === "false") out[k] = v === "true";
    else if (v !== "" && !Number.isNaN(Number(v))) out[k] = Number(v);
    else out[k] = v;
  }
  return out;
}

function writeURL() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) params.set(k, Array.isArray(v) ? v.join(",") : String(v));
  window.history.replaceState(null, "", `#${params.toString()}`);
}

// ------------------------------------------------------------------ talking to the server
async function start() {
  let first;
  try {
    first = await api("/api/lab", { method: "POST", body: { state: stateFromURL() } });
  } catch (e) {
    showError(`the link's settings were refused (${e.message}); starting from the defaults`);
    first = await api("/api/lab", { method: "POST", body: { state: {} } });
  }
  begin(first);
}

// A new session: its frames from now on, nothing from the one before.
function begin(first) {
  sid = first.session;
  frame = { structure: -1 };
  onFrame(first);
  openStream();
}

function openStream() {
  if (stream) stream.close();
  stream = new EventSource(`/api/lab/${sid}/stream`);
  stream.onmessage = (e) => onFrame(JSON.parse(e.data));
  stream.onerror = async () => {
    try {
      await api(`/api/lab/${sid}`);
    } catch (err) { // the session has gone (server restarted, or evicted): start a new one with our state
      stream.close();
      try {
        begin(await api("/api/lab", { method: "POST", body: { state } }));
      } catch (e2) { showError(e2.message); }
    }
  };
}

const change = guarded(async (fields) => {
  onFrame(await api(`/api/lab/${sid}/state`, { method: "POST", body: fields }));
  clearError();
});
const act = guarded(async (action) => onFrame(await api(`/api/lab/${sid}/action`, { method: "POST", body: { action } })));

// ------------------------------------------------------------------ frames
function onFrame(f) {
  // another session's frame, or one overtaken by a newer (an answer that arrives after stream frames)
  if (f.session !== sid || f.structure < frame.structure || (f.structure === frame.structure && f.epoch < frame.epoch)) return;
  if (f.state) {
    state = f.state;
    extras = f;
    writeURL();
    syncControls();
    buildNetwork();
    $("export").href = `/api/lab/${sid}/model.npz`;
  }
  mergeHistory(f);
  frame = f;
  $("epoch").textContent = String(f.epoch).padStart(6, "0");
  if ($("play").dataset.playing !== String(f.playing)) {
    $("play").dataset.playing = String(f.playing);
    $("play").innerHTML = f.playing ? PAUSE_ICON : PLAY_ICON;
  }
  $("play").setAttribute("aria-pressed", f.playing ? "true" : "false");
  $("train-loss").textContent = fmt(f.train_loss);
  $("test-loss").textContent = fmt(f.test_loss);
  if (f.error) showError(f.error);
  draw.neurons(f, extras);
  draw.output(f, state, extras, hovered);
  draw.charts(history);
  requestAnimationFrame(() => draw.links(f, state));
}

function mergeHistory(f) {
  const h = f.history;
  if (!h) return;
  if (f.history_reset) {
    history = { epoch: [...h.epoch], train_loss: [...h.train_loss], test_loss: [...h.test_loss], grad_norm: [...h.grad_norm] };
    return;
  }
  const last = history.epoch.length ? history.epoch[history.epoch.length - 1] : 0;
  h.epoch.forEach((e, i) => {
    if (e > last) for (const k of Object.keys(history)) history[k].push(h[k][i]);
  });
}

// ------------------------------------------------------------------ controls
function option(value) {
  return el("option", { value: String(value), text: LABELS[value] ?? String(value) });
}

function setupControls() {
  for (const [key, values] of Object.entries(CHOICES)) {
    const select = $(key);
    select.replaceChildren(...values.map(option));
    select.addEventListener("change", () => {
      const v = typeof values[0] === "number" ? Number(select.value) : select.value;
      change({ [key]: v });
    });
  }
  for (const key of ["train_ratio", "noise", "batch_size", "classes"]) {
    const input = $(key);
    input.addEventListener("input", () => { $(`${key}-value`).textContent = input.value; });
    input.addEventListener("change", () => change({ [key]: Number(input.value) }));
  }
  for (const key of ["show_test", "discretize"]) {
    $(key).addEventListener("change", () => change({ [key]: $(key).checked }));
  }
  $("play").addEventListener("click", () => act(frame.playing ? "pause" : "play"));
  $("step").addEventListener("click", () => act("step"));
  $("reset").addEventListener("click", () => act("reset"));
  $("regenerate").addEventListener("click", () => act("regenerate"));
  $("new_weights").addEventListener("click", () => act("new_weights"));
  $("add-layer").addEventListener("click", () => {
    if (state.hidden.length < 12) change({ hidden: [...state.hidden, state.hidden[state.hidden.length - 1] || 4] });
  });
  $("remove-layer").addEventListener("click", () => {
    if (state.hidden.length) change({ hidden: state.hidden.slice(0, -1) });
  });
  $("csv").addEventListener("change", guarded(async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    onFrame(await api(`/api/lab/${sid}/csv`, { method: "POST", body: await file.text(), headers: { "Content-Type": "text/csv" } }));
    clearError();
  }));
  $("load").addEventListener("change", guarded(async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    onFrame(await api(`/api/lab/${sid}/model`, { method: "POST", body: await file.arrayBuffer(), headers: { "Content-Type": "application/octet-stream" } }));
    clearError();
  }));
  $("clear-points").addEventListener("click", guarded(async () => {
    const key = state.problem === "regression" ? "reg_dataset" : "dataset";
    await change({ [key]: DATASETS[state.problem][0] });
  }));
  $("points").addEventListener("click", guarded(async (e) => {
    if (addClass === null) return;
    const r = $("points").getBoundingClientRect();
    const x1 = -6 + 12 * (e.clientX - r.left) / r.width;
    const x2 = 6 - 12 * (e.clientY - r.top) / r.height;
    onFrame(await api(`/api/lab/${sid}/points`, { method: "POST", body: { points: [[x1, x2, addClass]] } }));
  }));
}

function syncControls() {
  for (const key of Object.keys(CHOICES)) $(key).value = String(state[key]);
  $("loss").disabled = state.problem === "regression";
  for (const key of ["train_ratio", "noise", "batch_size", "classes"]) {
    $(key).value = state[key];
    $(`${key}-value`).textContent = state[key];
  }
  $("show_test").checked = state.show_test;
  $("discretize").checked = state.discretize;
  $("n-layers").textContent = state.hidden.length;
  const dataset = state.problem === "regression" ? state.reg_dataset : state.dataset;
  const most = state.problem === "regression" ? 1 : MAX_CLASSES[dataset];
  $("classes-row").hidden = state.problem === "regression" || most < 3 || dataset === "custom";
  $("classes").max = Math.max(2, most);
  const box = $("datasets");
  box.replaceChildren(...DATASETS[state.problem].map((name) => {
    const b = el("button", { class: name === dataset ? "active" : "", title: name, "data-dataset": name },
      draw.datasetIcon(name, state.problem), name);
    b.addEventListener("click", () => change({ [state.problem === "regression" ? "reg_dataset" : "dataset"]: name }));
    return b;
  }));
  const k = extras.classes;
  const swatches = state.problem === "regression" ? [] : Array.from({ length: Math.max(k, 2) + (k < 5 ? 1 : 0) }, (_, c) => c);
  const add = $("add-points");
  add.replaceChildren(el("span", { text: swatches.length ? "Click the output to add points of class" : "Regression: upload a CSV" }),
    ...swatches.map((c) => {
      const s = el("span", { class: `swatch${addClass === c ? " active" : ""}`, title: `class ${c}`, style: `background:${rgb(CLASS_COLOURS[c])}`, "data-class": c });
      s.addEventListener("click", () => { addClass = addClass === c ? null : c; syncControls(); });
      return s;
    }));
  $("points").style.cursor = addClass === null ? "default" : "copy";
  $("scale-lo").textContent = state.problem === "regression" ? "−1" : "class 0";
  $("scale-hi").textContent = state.problem === "regression" ? "+1" : "class 1";
  $("scale").hidden = k > 2;
  $("class-legend").hidden = k <= 2;
  $("class-legend").replaceChildren(...Array.from({ length: k > 2 ? k : 0 }, (_, c) =>
    el("span", { style: `color:${rgb(CLASS_COLOURS[c])};font-weight:600`, text: `● class ${c}` })));
}

// ------------------------------------------------------------------ the network
function thumbSize() {
  const most = Math.max(2, ...state.hidden, state.features.length);
  return most > 16 ? 18 : most > 8 ? 26 : 36;
}

function buildNetwork() {
  const layers = $("layers");
  const size = thumbSize();
  const inputs = el("div", { class: "hlayer inputs" });
  const nodes = el("div", { class: "nodes" });
  for (const name of ALL_FEATURES) {
    const on = state.features.includes(name);
    const c = el("canvas", { width: extras.thumb, height: extras.thumb, style: `width:${size}px;height:${size}px`, "data-feature": name });
    const b = el("button", { class: `feature${on ? " on" : ""}`, title: `${on ? "remove" : "use"} feature ${name}`, "data-feature": name },
      el("span", { text: FEATURE_LABELS[name] }), c);
    b.addEventListener("click", () => {
      const next = on ? state.features.filter((f) => f !== name) : [...state.features, name];
      if (next.length) change({ features: next }); else showError("the network needs at least one feature");
    });
    nodes.append(b);
  }
  inputs.append(nodes);
  for (const f of extras.features) { // every feature's map, chosen or not
    const c = nodes.querySelector(`canvas[data-feature="${f.name}"]`);
    const b = bytes(f.d);
    paint(c, extras.thumb, extras.thumb, (i) => diverging(b[i] / 255));
  }
  const columns = [inputs];
  state.hidden.forEach((n, l) => {
    const col = el("div", { class: "hlayer", "data-layer": l });
    const ctl = el("div", { class: "ctl" },
      el("button", { title: "one unit more", text: "+", onclick: () => resize(l, 1) }),
      el("button", { title: "one unit fewer", text: "−", onclick: () => resize(l, -1) }));
    const list = el("div", { class: "nodes" });
    for (let j = 0; j < n; j++) {
      const c = el("canvas", { class: "neuron", width: extras.thumb, height: extras.thumb, style: `width:${size}px;height:${size}px`, "data-unit": j });
      c.addEventListener("mousemove", (e) => neuronTip(e, l, j));
      c.addEventListener("mouseleave", () => { tip.hide(); hovered = null; draw.output(frame, state, extras, hovered); });
      list.append(c);
    }
    col.append(ctl, el("span", { class: "count", text: `${n} unit${n === 1 ? "" : "s"}` }), list);
    columns.push(col);
  });
  const out = el("div", { class: "hlayer" }, el("div", { class: "nodes" },
    el("canvas", { class: "neuron", id: "out-node", width: extras.grid, height: extras.grid, style: `width:${size + 8}px;height:${size + 8}px` })));
  columns.push(out);
  layers.replaceChildren(...columns);
}

function resize(l, d) {
  const hidden = [...state.hidden];
  hidden[l] = Math.max(1, Math.min(32, hidden[l] + d));
  change({ hidden });
}

// Hovering a unit shows its output over the whole square in the big map, as TensorFlow Playground does.
let hovered = null;

function neuronTip(e, l, j) {
  hovered = [l, j];
  draw.output(frame, state, extras, hovered);
  const w = frame.weights?.[l];
  const b = frame.biases?.[l]?.[j];
  const incoming = w ? w.map((row) => row[j]) : [];
  tip.show(e, [el("div", { text: `hidden layer ${l + 1}, unit ${j}` }),
    el("div", { class: "muted", text: `bias ${fmt(b)}; incoming weights ${incoming.map((v) => fmt(v, 2)).join(", ")}` })]);
}

window.addEventListener("resize", () => requestAnimationFrame(() => draw.links(frame, state)));
// A link pasted or edited in this tab: start again from its settings, as a new page would.
window.addEventListener("hashchange", guarded(start));
setupControls();
guarded(start)();
