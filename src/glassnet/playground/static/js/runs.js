// The Runs page: pick a recorded run, move the epoch slider, and everything follows: the curves' cursor,
// the per-layer table, the first layer's weights, the probe set's confusion matrix and changed answers, and
// the answer of that epoch's model to a drawing. Every number comes from the server (glassnet's snapshots).
import { api, bytes, clearError, diverging, DrawPad, el, fmt, guarded, lineChart, nav, paint, sequential, showError } from "./common.js";
import { drawUnitGrid, renderProbs } from "./glass.js";

nav("runs");
const $ = (id) => document.getElementById(id);
const state = { run: null, epoch: null, other: "", otherEpoch: null }; // mirrored in the URL's hash
let summary = null;
let probeBytes = null;
let busy = false, pending = false, drawing = null, replay = null;
const summaries = new Map();
window.runTimings = []; // ms from slider move to the epoch drawn (the page's own latency, read by the tests)

const pad = new DrawPad($("run-pad"), {
  width: 13,
  onChange: () => { drawing = pad.empty ? null : { image: pad.image() }; ask(); },
});
$("clear").addEventListener("click", () => pad.clear());

// ------------------------------------------------------------------ the run
async function init() {
  const runs = (await api("/api/runs")).runs;
  const fromHash = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
  const names = runs.filter((r) => !r.error).map((r) => r.name);
  if (!names.length) {
    $("run-info").textContent = "No runs yet: glassnet train --log-dir DIR, then glassnet playground --runs DIR (or train one on the Train page).";
    return;
  }
  const label = (r) => `${r.name}${r.preset ? ` · ${r.preset}` : ""} · ${r.last_epoch} epochs`;
  $("run").replaceChildren(...runs.filter((r) => !r.error).map((r) => el("option", { value: r.name, text: label(r) })));
  $("other").replaceChildren(el("option", { value: "", text: "nothing" }),
    ...runs.filter((r) => !r.error).map((r) => el("option", { value: r.name, text: label(r) })));
  for (const r of runs.filter((x) => x.error)) showError(r.error);
  state.run = names.includes(fromHash.run) ? fromHash.run : names[0];
  $("run").value = state.run;
  if (fromHash.other && names.includes(fromHash.other)) state.other = fromHash.other;
  $("other").value = state.other;
  await openRun(fromHash.epoch !== undefined ? Number(fromHash.epoch) : null,
    fromHash.other_epoch !== undefined ? Number(fromHash.other_epoch) : null);
}

async function getSummary(name) {
  if (!summaries.has(name)) summaries.set(name, await api(`/api/runs/${encodeURIComponent(name)}`));
  return summaries.get(name);
}

async function openRun(epoch = null, otherEpoch = null) {
  summaries.delete(state.run); // a live run grows: read it afresh when chosen
  summary = await getSummary(state.run);
  probeBytes = summary.probe && summary.probe.pixels ? bytes(summary.probe.pixels) : null;
  const slider = $("epoch");
  slider.max = String(summary.epochs.length - 1);
  const k = summary.epochs.indexOf(epoch);
  slider.value = String(k >= 0 ? k : summary.epochs.length - 1);
  const m = summary.meta || {};
  $("run-info").textContent = `${summary.path} · ${summary.epochs.length} snapshots of ${summary.last_epoch} epochs`
    + (m.preset ? ` · preset ${m.preset}` : "") + (m.live ? " · trained on the Train page" : "");
  $("run-pad").parentElement.hidden = !summary.digits;
  await fillOtherEpochs(otherEpoch);
  await show();
}

async function fillOtherEpochs(wanted = null) {
  const box = $("other-epoch");
  if (!state.other) { box.replaceChildren(); box.disabled = true; state.otherEpoch = null; return; }
  const other = await getSummary(state.other);
  box.disabled = false;
  box.replaceChildren(...other.epochs.map((e) => el("option", { value: String(e), text: String(e) })));
  state.otherEpoch = other.epochs.includes(wanted) ? wanted : other.epochs[other.epochs.length - 1];
  box.value = String(state.otherEpoch);
}

$("run").addEventListener("change", guarded(async () => { state.run = $("run").value; stopReplay(); await openRun(); }));
$("other").addEventListener("change", guarded(async () => { state.other = $("other").value; await fillOtherEpochs(); await show(); }));
$("other-epoch").addEventListener("change", guarded(async () => { state.otherEpoch = Number($("other-epoch").value); await show(); }));
$("epoch").addEventListener("input", guarded(() => show()));
$("play").addEventListener("click", () => (replay ? stopReplay() : startReplay()));

function startReplay() {
  const slider = $("epoch");
  if (Number(slider.value) >= Number(slider.max)) slider.value = "0";
  $("play").textContent = "Stop";
  replay = setInterval(guarded(async () => {
    if (Number(slider.value) >= Number(slider.max)) { stopReplay(); return; }
    slider.value = String(Number(slider.value) + 1);
    await show();
  }), 450);
}

function stopReplay() {
  clearInterval(replay);
  replay = null;
  $("play").textContent = "Replay";
}

// ------------------------------------------------------------------ one epoch
async function show() {
  if (!summary) return;
  if (busy) { pending = true; return; } // requests go one at a time; the newest position wins
  busy = true;
  const started = performance.now();
  try {
    const epoch = summary.epochs[Number($("epoch").value)];
    state.epoch = epoch;
    $("epoch-label").textContent = String(epoch);
    const hash = { run: state.run, epoch, other: state.other, other_epoch: state.other ? state.otherEpoch : null };
    history.replaceState(null, "", `#${new URLSearchParams(Object.entries(hash).filter(([, v]) => v !== null && v !== ""))}`);
    drawCurves(epoch);
    const name = encodeURIComponent(state.run);
    const view = await api(`/api/runs/${name}/epochs/${epoch}`);
    if (view.epoch !== state.epoch) return;
    clearError();
    renderTable(view);
    renderPictures($("pictures"), view.pictures);
    $("pictures-info").textContent = view.pictures ? `(${view.pictures.layer}, first ${view.pictures.units.length} units; blue +, orange −)` : "";
    renderProbe(view);
    if (state.other) {
      const q = new URLSearchParams({ epoch, other: state.other, other_epoch: state.otherEpoch });
      const diff = await api(`/api/runs/${name}/diff?${q}`);
      $("diff-box").hidden = false;
      $("other-info").textContent = diff.b;
      renderPictures($("other-pictures"), diff.other);
      renderPictures($("diff-pictures"), diff.difference);
    } else {
      $("diff-box").hidden = true;
    }
    document.body.dataset.epoch = String(epoch);
    window.runTimings.push(performance.now() - started);
    if (drawing) await ask();
  } finally {
    busy = false;
    if (pending) { pending = false; show(); }
  }
}

function drawCurves(epoch) {
  const h = summary.history;
  const epochs = (h.loss || []).map((_, i) => i + 1);
  const points = (key) => epochs.map((e, i) => [e, (h[key] || [])[i]]);
  lineChart($("loss-chart"), [
    { name: "training", colour: "#0877bd", points: points("loss") },
    { name: "validation", colour: "#f59322", points: points("val_loss") },
  ], { xLabel: "epoch", cursor: epoch });
  lineChart($("acc-chart"), [
    { name: "training", colour: "#0877bd", points: points("accuracy") },
    { name: "validation", colour: "#f59322", points: points("val_accuracy") },
  ], { xLabel: "epoch", cursor: epoch });
}

function renderTable(view) {
  const head = el("tr", {}, ...["layer", "grad norm", "update ratio", "dead", "‖W‖"].map((t) => el("th", { text: t })));
  const rows = view.layers.map((l) => el("tr", { "data-layer": l.name },
    el("td", { text: l.name, title: l.type }),
    el("td", { text: fmt(l.grad_norm) }),
    el("td", { text: fmt(l.update_ratio) }),
    el("td", { text: l.dead_fraction === null || l.dead_fraction === undefined ? "–" : `${(100 * l.dead_fraction).toFixed(1)}%` }),
    el("td", { text: fmt(l.weight_norm) })));
  $("layer-table").replaceChildren(head, ...rows);
}

function renderPictures(box, p) {
  if (!p) { box.replaceChildren(el("p", { class: "muted small", text: "no first-layer weights to picture" })); return; }
  const [h, w] = p.shape;
  if (box.children.length !== p.units.length || box.querySelector("p")) {
    box.replaceChildren(...p.units.map(() => el("canvas", { class: "pixelated" })));
  }
  p.units.forEach((u, k) => {
    const b = bytes(u.d);
    paint(box.children[k], w, h, (i) => diverging(b[i] / 255));
    box.children[k].title = `unit ${k}: max |w| ${fmt(u.m)}`;
  });
}

function renderProbe(view) {
  if (!view.confusion) { $("probe-info").textContent = "(no probe set)"; return; }
  const acc = `${(100 * view.probe_accuracy).toFixed(0)}% of ${view.predictions.length} right`;
  $("probe-info").textContent = `(${acc}; rows: label, columns: answer)`;
  drawConfusion($("confusion"), view.confusion);
  const since = view.previous === null ? "" : `(since epoch ${view.previous}: ${view.changed.length})`;
  $("changed-info").textContent = since;
  $("changed").replaceChildren(...view.changed.slice(0, 40).map((c) => {
    const canvas = el("canvas", { class: "pixelated" });
    if (probeBytes) paint(canvas, 28, 28, (i) => { const v = probeBytes[c.index * 784 + i]; return [v, v, v]; });
    const cls = c.after === c.label ? "fixed" : c.before === c.label ? "broke" : "";
    return el("figure", { "data-index": c.index, title: `probe digit #${c.index}, labelled ${c.label}` }, canvas,
      el("figcaption", { class: cls, text: `${c.before}→${c.after}` }));
  }));
}

function drawConfusion(canvas, m) {
  const n = m.length;
  const ratio = window.devicePixelRatio || 1;
  const size = 260;
  canvas.width = size * ratio;
  canvas.height = size * ratio;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, size, size);
  const pad = 16, cell = (size - pad) / n;
  const rowMax = m.map((r) => Math.max(1, ...r));
  ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = "#5b6270";
    ctx.fillText(String(i), pad / 2, pad + (i + 0.5) * cell);
    ctx.fillText(String(i), pad + (i + 0.5) * cell, pad / 2);
    for (let j = 0; j < n; j++) {
      const v = m[i][j] / rowMax[i];
      const c = i === j ? sequential(v) : diverging(0.5 - 0.5 * v);
      ctx.fillStyle = `rgb(${c[0] | 0}, ${c[1] | 0}, ${c[2] | 0})`;
      ctx.fillRect(pad + j * cell + 0.5, pad + i * cell + 0.5, cell - 1, cell - 1);
      if (m[i][j]) {
        ctx.fillStyle = i === j && v > 0.5 ? "#fff" : "#1f2430";
        ctx.fillText(String(m[i][j]), pad + (j + 0.5) * cell, pad + (i + 0.5) * cell);
      }
    }
  }
}

// ------------------------------------------------------------------ a drawing through the chosen epoch
let asking = false, askPending = false;
async function ask() {
  if (!drawing || !summary || !summary.digits || state.epoch === null) {
    if (!drawing) { $("answer").textContent = "·"; $("answer-info").textContent = "Draw a digit."; $("probs").replaceChildren(); $("answer-layers").replaceChildren(); }
    return;
  }
  if (asking) { askPending = true; return; }
  asking = true;
  try {
    const epoch = state.epoch;
    const r = await api(`/api/runs/${encodeURIComponent(state.run)}/epochs/${epoch}/predict`, { method: "POST", body: drawing });
    $("answer").textContent = String(r.prediction);
    $("answer").dataset.epoch = String(epoch);
    $("answer-info").textContent = `the model after epoch ${epoch}`;
    renderProbs($("probs"), r.probabilities);
    $("answer-layers").replaceChildren(...r.layers.filter((l) => !l.identity && l.output_shape.length === 1).map((l) => {
      const canvas = el("canvas", { "aria-label": `${l.name} units` });
      drawUnitGrid(canvas, l.activations, 230);
      return el("div", { class: "layer", "data-layer": l.name }, el("div", { class: "name" }, el("b", { text: l.name }), ` · ${l.type}`), canvas);
    }));
  } catch (e) {
    showError(e.message);
  } finally {
    asking = false;
    if (askPending) { askPending = false; ask(); }
  }
}

guarded(init)();
