// Live MNIST training: start a preset, watch its curves and first-layer weights, probe it with a drawing.
import { api, bytes, diverging, DrawPad, el, guarded, lineChart, nav, paint } from "./common.js";
import { renderProbs } from "./glass.js";

nav("train");
const $ = (id) => document.getElementById(id);
let presets = {};
let status = { status: "idle" };
let probeBusy = false, probePending = false, probeInput = null, lastProbe = 0;

const probe = new DrawPad($("probe"), {
  width: 13,
  onChange: () => { probeInput = probe.empty ? null : { image: probe.image() }; probeRun(); },
});
$("probe-clear").addEventListener("click", () => probe.clear());
$("probe-test").addEventListener("click", guarded(async () => {
  const d = await api("/api/digits/test?kind=random");
  probe.showDigit(d.pixels);
  probeInput = { pixels: d.pixels };
  $("probe-result").dataset.label = d.label;
  await probeRun();
}));

// The live model (or, before any training, the first model) on the drawing.
async function probeRun() {
  if (!probeInput) { $("probe-probs").replaceChildren(); $("probe-result").textContent = "Draw a digit."; return; }
  if (probeBusy) { probePending = true; return; }
  probeBusy = true;
  lastProbe = Date.now();
  try {
    const models = (await api("/api/models")).models;
    const m = models.find((x) => x.name === "live") || models[0];
    const r = await api("/api/predict", { method: "POST", body: { model: m.name, ...probeInput, z: false } });
    $("probe-result").textContent = `${m.name} says ${r.prediction} (${m.source})`;
    renderProbs($("probe-probs"), r.probabilities);
  } catch (e) {
    $("probe-result").textContent = e.message;
  } finally {
    probeBusy = false;
    if (probePending) { probePending = false; probeRun(); }
  }
}

async function init() {
  const s = await api("/api/train");
  presets = s.presets;
  $("preset").replaceChildren(...Object.keys(presets).map((name) => el("option", { value: name, text: name })));
  $("preset").addEventListener("change", showPreset);
  $("data").querySelector('option[value="full"]').disabled = !s.full_data;
  $("data-info").textContent = s.full_data ? "" : "The full MNIST is not here: start the playground with --data-dir DIR.";
  showPreset();
  onStatus({ status: s.status, pictures: s.pictures });
  const stream = new EventSource("/api/train/stream");
  stream.onmessage = (e) => onStatus(JSON.parse(e.data));
}

function showPreset() {
  const p = presets[$("preset").value];
  $("epochs").value = p.epochs;
  $("preset-info").textContent = `${p.architecture}, hidden ${p.hidden.join("-")}, ${p.epochs} epochs by default`;
}

$("start").addEventListener("click", guarded(async () => {
  const body = { preset: $("preset").value, epochs: Number($("epochs").value), data: $("data").value, seed: Number($("seed").value) };
  onStatus(await api("/api/train", { method: "POST", body }));
}));
$("stop").addEventListener("click", guarded(async () => onStatus(await api("/api/train/stop", { method: "POST" }))));

// How far a run has got, in epochs: a status that arrives late (a POST's answer after a stream message, or
// the reverse) never moves the page backwards.
const STAGE = { starting: 0, running: 1 }; // then done, stopped or error: 2
const stageOf = (s) => STAGE[s.status] ?? 2;
const progressOf = (s) => (s.epoch || 0) + (s.batches ? (s.batch || 0) / s.batches : 0);

function onStatus(msg) {
  if (msg.status) {
    const s = msg.status;
    const stale = s.run === status.run && (stageOf(s) < stageOf(status)
      || (stageOf(s) === stageOf(status) && progressOf(s) < progressOf(status)));
    if (!stale) status = s;
  }
  const running = status.status === "running" || status.status === "starting";
  $("start").disabled = running;
  $("stop").disabled = !running;
  const h = status.history || {};
  let line = status.status;
  if (status.preset) {
    line = `${status.status}: preset ${status.preset}, epoch ${Math.min(status.epoch + (running ? 1 : 0), status.epochs)} of ${status.epochs}`;
    if (running && status.batches && status.epoch < status.epochs) line += `, batch ${status.batch} of ${status.batches}`;
    else if (running && status.epoch >= status.epochs) line += ", testing";
    if (status.test_accuracy !== undefined) line += ` · test accuracy ${(100 * status.test_accuracy).toFixed(2)}% in ${status.seconds} s`;
    if (status.error) line += ` · ${status.error}`;
  }
  $("status").textContent = line;
  $("status").dataset.status = status.status;
  const done = status.epochs ? (status.epoch + (running && status.batches ? status.batch / status.batches : 0)) / status.epochs : 0;
  $("progress").style.width = `${Math.min(100, 100 * done)}%`;
  const epochs = (h.loss || []).map((_, i) => i + 1);
  lineChart($("loss-chart"), [
    { name: "batches (running mean)", colour: "#b9c3d3", points: status.batch_loss || [] },
    { name: "training", colour: "#0877bd", points: epochs.map((e, i) => [e, h.loss[i]]) },
    { name: "validation", colour: "#f59322", points: epochs.map((e, i) => [e, (h.val_loss || [])[i]]) },
  ], { xLabel: "epoch", yMin: 0 });
  lineChart($("acc-chart"), [
    { name: "training", colour: "#0877bd", points: epochs.map((e, i) => [e, (h.accuracy || [])[i]]) },
    { name: "validation", colour: "#f59322", points: epochs.map((e, i) => [e, (h.val_accuracy || [])[i]]) },
  ], { xLabel: "epoch" });
  if (msg.pictures && msg.pictures.units) drawPictures(msg.pictures);
  if (probeInput && Date.now() - lastProbe > 1000) probeRun(); // the same drawing, newer weights
}

function drawPictures(p) {
  const [h, w] = p.shape;
  const box = $("pictures");
  if (box.children.length !== p.units.length) {
    box.replaceChildren(...p.units.map(() => el("canvas", { class: "pixelated" })));
  }
  p.units.forEach((u, k) => {
    const b = bytes(u.d);
    paint(box.children[k], w, h, (i) => diverging(b[i] / 255));
  });
  $("pictures-info").textContent = `(${p.layer}, first ${p.units.length} units; blue +, orange −)`;
}

guarded(init)();
