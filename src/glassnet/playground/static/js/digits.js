// The digit page: draw, and watch every layer of every chosen model respond (glassnet computes them).
import { api, clearError, DrawPad, el, fmt, guarded, nav, paint, showError, tooltip } from "./common.js";
import { drawUnitGrid, drawUnitPicture, renderProbs, scaleFor, unitTable } from "./glass.js";
import { Lens } from "./why.js";

nav("digits");
const tip = tooltip();
const columns = document.getElementById("columns");
const seen = document.getElementById("seen");
const info = document.getElementById("digit-info");
let models = [];
let chosen = [];
let lastInput = null; // {pixels} or {image}
let busy = false, pending = false;
const unitCache = new Map();
const lenses = new Map(); // model name -> its Why? lens

const pad = new DrawPad(document.getElementById("pad"), {
  onChange: () => {
    info.textContent = "";
    if (pad.empty) { lastInput = null; clearColumns(); return; }
    lastInput = { image: pad.image() };
    run();
  },
});

for (const [id, tool] of [["pencil", "pencil"], ["eraser", "eraser"]]) {
  document.getElementById(id).addEventListener("click", () => {
    pad.tool = tool;
    document.getElementById("pencil").classList.toggle("active", tool === "pencil");
    document.getElementById("eraser").classList.toggle("active", tool === "eraser");
  });
}
document.getElementById("clear").addEventListener("click", () => pad.clear());
document.getElementById("test-digit").addEventListener("click", guarded(() => pickDigit("random")));
document.getElementById("wrong-digit").addEventListener("click", guarded(() => pickDigit("misclassified")));

// A digit given as 784 pixels (a test digit, or one that Fool it nudged), shown to every chosen model.
function showPixels(pixels, text) {
  pad.showDigit(pixels);
  lastInput = { pixels };
  info.textContent = text;
  return run();
}

async function pickDigit(kind) {
  const model = chosen[0] || models[0].name;
  const d = await api(`/api/digits/test?kind=${kind}&model=${encodeURIComponent(model)}`);
  const wrong = kind === "misclassified" ? `, one of the ${d.misclassified_count} that ${model} gets wrong` : "";
  info.dataset.label = d.label;
  await showPixels(d.pixels, `MNIST test digit #${d.index}, labelled ${d.label}${wrong}`);
}

// ------------------------------------------------------------------ models
async function loadModels() {
  models = (await api("/api/models")).models;
  const bar = document.getElementById("model-choice");
  const known = [...bar.querySelectorAll("input")].map((i) => i.value);
  chosen = known.length ? chosen.filter((n) => models.some((m) => m.name === n)) : models.slice(0, 3).map((m) => m.name);
  bar.replaceChildren(...models.map((m) => {
    const box = el("input", { type: "checkbox", value: m.name, checked: chosen.includes(m.name) });
    box.addEventListener("change", () => {
      chosen = [...bar.querySelectorAll("input:checked")].map((i) => i.value);
      buildColumns();
      run();
    });
    const acc = m.test_accuracy ? ` · ${(100 * m.test_accuracy).toFixed(2)}%`
      : m.val_accuracy ? ` · ${(100 * m.val_accuracy).toFixed(2)}% validation` : "";
    return el("label", { class: "check card small", title: m.source }, box, `${m.name} (${m.parameters.toLocaleString()} weights${acc})`);
  }));
  buildColumns();
  if (lastInput) run();
}

function buildColumns() {
  columns.replaceChildren(...chosen.map((name) => {
    const m = models.find((x) => x.name === name);
    const col = el("section", { class: "card model-col", "data-model": name, "aria-label": `model ${name}` },
      el("header", {}, el("div", {}, el("h3", { text: name }), el("div", { class: "small muted", text: m.source })),
        el("div", { class: "prediction", "aria-label": "prediction" })),
      el("div", { class: "probs", style: "margin: 10px 0" }),
      el("div", { class: "layers-view" }, waiting()));
    const lens = new Lens(col, name, tip, showPixels);
    if (lenses.get(name)?.on) lens.setOn(true);
    lenses.set(name, lens);
    return col;
  }));
  if (!chosen.length) columns.append(el("p", { class: "muted", text: "Choose a model above." }));
}

// Before the first stroke (and after Clear): what to do, where the answer and the layers will be.
function waiting() {
  return el("p", { class: "hint draw-hint", text: "Draw a digit on the pad, or pick a test digit: the answer and every layer appear here." });
}

function clearColumns() {
  for (const col of columns.querySelectorAll(".model-col")) {
    col.querySelector(".prediction").textContent = "";
    col.querySelector(".probs").replaceChildren();
    col.querySelector(".layers-view").replaceChildren(waiting());
  }
  for (const lens of lenses.values()) lens.clear();
  paint(seen, 28, 28, () => [0, 0, 0]);
}

// ------------------------------------------------------------------ predictions
async function run() {
  if (!lastInput || !chosen.length) return;
  if (busy) { pending = true; return; }
  busy = true;
  try {
    const input = lastInput;
    const results = await Promise.all(chosen.map((name) =>
      api("/api/predict", { method: "POST", body: { model: name, ...input, top_units: 8 } })
        .catch((e) => ({ error: e.message, model: name }))));
    const ok = results.find((r) => !r.error);
    if (ok) {
      clearError();
      paint(seen, 28, 28, (i) => { const v = ok.input[i] * 255; return [v, v, v]; });
    }
    for (const r of results) {
      if (r.error) showError(r.error); else renderModel(r);
    }
  } finally {
    busy = false;
    if (pending) { pending = false; run(); }
  }
}

function renderModel(r) {
  const col = columns.querySelector(`[data-model="${CSS.escape(r.model)}"]`);
  if (!col) return;
  col.querySelector(".prediction").textContent = String(r.prediction);
  renderProbs(col.querySelector(".probs"), r.probabilities);
  const view = col.querySelector(".layers-view");
  view.replaceChildren(...r.layers.map((layer, index) => layerView(r, layer, index)));
  lenses.get(r.model)?.update(r);
}

function layerView(r, layer, index) {
  const shape = layer.output_shape;
  const box = el("div", { class: "layer", "data-layer": layer.name },
    el("div", { class: "name" }, el("b", { text: layer.name }), ` · ${layer.type} · (${shape.join(", ")})`));
  if (layer.identity || ["Reshape", "Flatten"].includes(layer.class)) { // nothing new to see
    box.classList.add("thin");
    return box;
  }
  if (layer.states) { // recurrent: the hidden state after each of the 28 rows
    const c = el("canvas", { class: "pixelated", "aria-label": "hidden state over time" });
    const flat = layer.states.flat();
    const colour = scaleFor(flat);
    paint(c, layer.states[0].length, layer.states.length, (i) => colour(flat[i]));
    box.append(el("div", { class: "small muted", text: "hidden state h_t after each row t (rows down, units across)" }),
      el("div", { class: "states" }, c));
  }
  if (shape.length === 3) { // feature maps (C, H, W)
    const flat = layer.activations.flat(2);
    const colour = scaleFor(flat);
    const maps = el("div", { class: "maps" });
    const size = shape[1] >= 16 ? 44 : 32;
    layer.activations.forEach((map, k) => {
      const c = el("canvas", { class: "pixelated", style: `width:${size}px;height:${size}px`, "data-unit": k });
      const values = map.flat();
      paint(c, shape[2], shape[1], (i) => colour(values[i]));
      if (layer.class === "Conv2D") hoverUnit(c, r, index, layer, () => k, () => [["max a", fmt(Math.max(...values))]]);
      maps.append(c);
    });
    box.append(maps);
  } else if (shape.length === 1) {
    const canvas = el("canvas", { "aria-label": `${layer.name} units` });
    const grid = drawUnitGrid(canvas, layer.activations, 300);
    canvas.style.width = `${canvas.width}px`;
    hoverUnit(canvas, r, index, layer, (e) => {
      const rect = canvas.getBoundingClientRect();
      return grid.unitAt((e.clientX - rect.left) * canvas.width / rect.width, (e.clientY - rect.top) * canvas.height / rect.height);
    }, (j) => [["z", fmt(layer.z ? layer.z[j] : layer.activations[j])], ["a", fmt(layer.activations[j])]]);
    box.append(canvas);
  }
  if (r.top_units && r.top_units.layer === index) {
    const pics = el("div", { class: "weights" });
    for (const u of r.top_units.units) {
      const c = el("canvas", { class: "pixelated" });
      drawUnitPicture(c, u);
      pics.append(el("figure", {}, c, el("figcaption", { text: `#${u.unit} a=${fmt(u.a, 2)}` })));
    }
    box.append(el("div", { class: "small muted", style: "margin-top:6px", text: "incoming weights of the most active units (blue +, orange −)" }), pics);
  }
  return box;
}

// Hovering a unit: its numbers from this pass, its bias and weight picture from the server.
function hoverUnit(target, r, index, layer, unitOf, rowsOf) {
  let shown = -1;
  target.addEventListener("mousemove", async (e) => {
    const j = unitOf(e);
    if (j < 0) { tip.hide(); shown = -1; return; }
    if (j === shown) return;
    shown = j;
    const key = `${r.model}/${r.version}/${index}/${j}`;
    let unit = unitCache.get(key);
    const render = () => {
      const rows = [["unit", `${layer.name} #${j}`], ...rowsOf(j)];
      const parts = [unitTable(unit ? [...rows, ["bias", fmt(unit.bias)]] : rows)];
      if (unit) {
        const c = el("canvas", { class: "pixelated" });
        drawUnitPicture(c, unit);
        parts.push(c, el("div", { class: "muted", text: "incoming weights" }));
      }
      tip.show(e, parts);
    };
    render();
    if (!unit) {
      try {
        unit = (await api(`/api/models/${encodeURIComponent(r.model)}/layers/${index}/units?units=${j}`)).units[0];
        unitCache.set(key, unit);
        if (shown === j) render();
      } catch (err) { /* a layer without weights: the numbers are enough */ }
    }
  });
  target.addEventListener("mouseleave", () => { tip.hide(); shown = -1; });
}

guarded(loadModels)();
// Models can appear while the page is open (the live training's): look every few seconds.
setInterval(async () => {
  try {
    const key = (list) => list.map((m) => `${m.name} ${m.test_accuracy} ${m.val_accuracy}`).join();
    if (key((await api("/api/models")).models) !== key(models)) await loadModels();
  } catch (e) { /* the health chip says when the server is gone */ }
}, 4000);
