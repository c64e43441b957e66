// The 2-D playground: controls mirror one state object (and the URL); the server trains with glassnet
// and streams frames (heatmaps of every unit and of the output, weights, losses, gradient norms).
import {
  api, bytes, CLASS_COLOURS, clearError, diverging, el, fmt, guarded, lineChart, nav, paint, rgb, showError, tooltip,
} from "./common.js";

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
const LAYER_COLOURS = ["#0877bd", "#f59322", "#2ea043", "#a349a4", "#d62728", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#1f3b73", "#ff7f0e", "#444"];

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
  if (f.session !== sid || f.structure < frame.structure) return; // another session's, or overtaken
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
  drawNeurons(f);
  drawOutput(f);
  drawCharts();
  requestAnimationFrame(() => drawLinks(f));
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
      datasetIcon(name, state.problem), name);
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
  $("scale-lo").textContent = state.problem === "regression" ? "−1" : (k > 2 ? "" : "class 0");
  $("scale-hi").textContent = state.problem === "regression" ? "+1" : (k > 2 ? "" : "class 1");
}

// Small pictures of the data sets (icons, not data: the data is made by the server).
function datasetIcon(name, problem) {
  const c = el("canvas", { width: 60, height: 60 });
  const ctx = c.getContext("2d");
  const O = rgb(CLASS_COLOURS[0]), B = rgb(CLASS_COLOURS[1]);
  ctx.fillStyle = "#f6f7f9";
  ctx.fillRect(0, 0, 60, 60);
  const dot = (x, y, col) => { ctx.fillStyle = col; ctx.beginPath(); ctx.arc(x, y, 2.2, 0, 2 * Math.PI); ctx.fill(); };
  let seed = 7;
  const rnd = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  if (problem === "regression" && name !== "custom") {
    paint(c, 60, 60, (i) => {
      const x = (i % 60) / 30 - 1, y = 1 - Math.floor(i / 60) / 30;
      const v = name === "plane" ? (x + y) / 2 : Math.sin(x * 4) * Math.cos(y * 3);
      return diverging(0.5 + 0.5 * v);
    });
    return c;
  }
  for (let i = 0; i < 80; i++) {
    const x = rnd() * 60, y = rnd() * 60, dx = x - 30, dy = y - 30;
    if (name === "circle") dot(x, y, Math.hypot(dx, dy) < 14 ? B : O);
    else if (name === "xor") dot(x, y, dx * dy > 0 ? B : O);
    else if (name === "gauss") dot(i % 2 ? 18 + rnd() * 10 : 32 + rnd() * 10, i % 2 ? 32 + rnd() * 10 : 18 + rnd() * 10, i % 2 ? O : B);
    else if (name === "spiral") {
      const t = i / 80 * 1.75 * 2 * Math.PI, r = i / 80 * 26, arm = i % 2 ? Math.PI : 0;
      dot(30 + r * Math.sin(t + arm), 30 + r * Math.cos(t + arm), i % 2 ? O : B);
    } else if (name === "moons") {
      const t = rnd() * Math.PI;
      if (i % 2) dot(22 + 14 * Math.cos(t), 30 - 14 * Math.sin(t), B); else dot(36 - 14 * Math.cos(t), 28 + 14 * Math.sin(t), O);
    }
  }
  if (name === "custom") {
    ctx.fillStyle = "#5b6270";
    ctx.font = "28px system-ui";
    ctx.fillText("+", 22, 40);
  }
  return c;
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
      c.addEventListener("mouseleave", () => { tip.hide(); hovered = null; drawOutput(frame); });
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
  drawOutput(frame);
  const w = frame.weights?.[l];
  const b = frame.biases?.[l]?.[j];
  const incoming = w ? w.map((row) => row[j]) : [];
  tip.show(e, [el("div", { text: `hidden layer ${l + 1}, unit ${j}` }),
    el("div", { class: "muted", text: `bias ${fmt(b)}; incoming weights ${incoming.map((v) => fmt(v, 2)).join(", ")}` })]);
}

function drawNeurons(f) {
  if (!f.neurons) return;
  const t = extras.thumb;
  f.neurons.forEach((units, l) => {
    const col = $("layers").querySelector(`.hlayer[data-layer="${l}"]`);
    if (!col) return;
    units.forEach((u, j) => {
      const c = col.querySelector(`canvas[data-unit="${j}"]`);
      if (!c) return;
      const b = bytes(u.d);
      paint(c, t, t, (i) => diverging(b[i] / 255));
    });
  });
}

function nodeCentres() {
  const box = $("network").getBoundingClientRect();
  return [...$("layers").querySelectorAll(".hlayer")].map((col, l) => {
    const sel = l === 0 ? state.features.map((f) => col.querySelector(`canvas[data-feature="${f}"]`)) : [...col.querySelectorAll("canvas")];
    return sel.map((c) => {
      const r = c.getBoundingClientRect();
      return { x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height };
    });
  });
}

function drawLinks(f) {
  const canvas = $("links");
  const box = $("network");
  const ratio = window.devicePixelRatio || 1;
  const w = box.clientWidth, h = box.clientHeight;
  if (canvas.width !== w * ratio || canvas.height !== h * ratio) {
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (!f.weights) return;
  const centres = nodeCentres();
  let m = 1e-9;
  for (const W of f.weights) for (const row of W) for (const v of row) m = Math.max(m, Math.abs(v));
  f.weights.forEach((W, l) => {
    const from = centres[l], to = centres[l + 1];
    if (!from || !to) return;
    W.forEach((row, i) => row.forEach((v, j) => {
      const a = from[i], b = to[j];
      if (!a || !b) return;
      const s = Math.abs(v) / m;
      ctx.strokeStyle = v > 0 ? `rgba(8, 119, 189, ${0.15 + 0.7 * s})` : `rgba(245, 147, 34, ${0.15 + 0.7 * s})`;
      ctx.lineWidth = 0.4 + 3.6 * s;
      ctx.beginPath();
      ctx.moveTo(a.x + a.w, a.y + a.h / 2);
      ctx.bezierCurveTo(a.x + a.w + 20, a.y + a.h / 2, b.x - 20, b.y + b.h / 2, b.x, b.y + b.h / 2);
      ctx.stroke();
    }));
  });
}

// ------------------------------------------------------------------ output
function outputColours(f) {
  const o = f.output;
  const k = extras.classes;
  const discrete = state.discretize;
  if (o.kind === "classes") {
    const c = bytes(o.c), p = bytes(o.p);
    return (i) => {
      const col = CLASS_COLOURS[c[i]];
      const t = discrete ? 1 : Math.max(0, (p[i] / 255 - 1 / k) / (1 - 1 / k));
      return [255 + (col[0] - 255) * (0.25 + 0.6 * t), 255 + (col[1] - 255) * (0.25 + 0.6 * t), 255 + (col[2] - 255) * (0.25 + 0.6 * t)];
    };
  }
  const d = bytes(o.d);
  if (discrete) return (i) => diverging(d[i] >= 128 ? 0.85 : 0.15);
  return (i) => diverging(0.15 + 0.7 * d[i] / 255);
}

function drawOutput(f) {
  if (!f.output) return;
  const colour = outputColours(f);
  const unit = hovered && f.neurons?.[hovered[0]]?.[hovered[1]];
  if (unit) {
    const b = bytes(unit.d);
    paint($("heatmap"), extras.thumb, extras.thumb, (i) => diverging(b[i] / 255));
  } else {
    paint($("heatmap"), extras.grid, extras.grid, colour);
  }
  const node = $("out-node");
  if (node) paint(node, extras.grid, extras.grid, colour);
  const canvas = $("points");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, 300, 300);
  const X = (x) => (x + 6) / 12 * 300, Y = (y) => (6 - y) / 12 * 300;
  const colourOf = (y) => (state.problem === "regression" ? rgb(diverging(0.5 + 0.5 * y)) : rgb(CLASS_COLOURS[y]));
  const draw = (pts, test) => {
    for (const [x1, x2, y] of pts) {
      ctx.fillStyle = colourOf(y);
      ctx.strokeStyle = test ? "#111" : "#fff";
      ctx.lineWidth = test ? 1.5 : 1;
      ctx.beginPath();
      ctx.arc(X(x1), Y(x2), 3.2, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  };
  draw(extras.points.train, false);
  if (state.show_test) draw(extras.points.test, true);
}

function drawCharts() {
  const e = history.epoch;
  lineChart($("loss-chart"), [
    { name: "test", colour: "#1f2430", points: e.map((x, i) => [x, history.test_loss[i]]) },
    { name: "training", colour: "#8a93a3", dash: [4, 3], points: e.map((x, i) => [x, history.train_loss[i]]) },
  ], { xLabel: "epoch", yMin: 0 });
  const n = history.grad_norm.length ? history.grad_norm[0].length : 0;
  const series = [];
  for (let l = 0; l < n; l++) {
    series.push({ name: l === n - 1 ? "out" : `h${l + 1}`, colour: LAYER_COLOURS[l % LAYER_COLOURS.length],
      points: e.map((x, i) => [x, history.grad_norm[i][l]]) });
  }
  lineChart($("grad-chart"), series, { log: true, xLabel: "epoch" });
}

window.addEventListener("resize", () => requestAnimationFrame(() => drawLinks(frame)));
// A link pasted or edited in this tab: start again from its settings, as a new page would.
window.addEventListener("hashchange", guarded(start));
setupControls();
guarded(start)();
