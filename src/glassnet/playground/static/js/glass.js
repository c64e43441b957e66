// Drawing what a digit network computed: probability bars, unit grids, feature maps, weight pictures.
import { bytes, diverging, el, fmt, paint, paintSigned, sequential } from "./common.js";

export function renderProbs(container, probs) {
  const top = probs.indexOf(Math.max(...probs));
  container.replaceChildren(...probs.flatMap((p, k) => {
    const row = k === top ? "top" : "";
    const bar = el("div", { class: "bar" }, el("i", { style: `width: ${(100 * p).toFixed(1)}%` }));
    return [el("span", { class: row, text: String(k), "data-class": k }), el("div", { class: row, "data-class": k }, bar),
      el("span", { class: row, text: `${(100 * p).toFixed(1)}%`, "data-class": k })];
  }));
  container.setAttribute("data-prediction", String(top));
}

// A unit's incoming weights (from /api/models/.../units) into a canvas, shaped to be read.
export function drawUnitPicture(canvas, unit) {
  const shape = unit.shape;
  const w = unit.weights;
  if (shape.length === 3) { // convolution kernels (C, kh, kw): channels side by side, at most 8
    const [c, kh, kw] = shape;
    const shown = Math.min(c, 8);
    const values = new Float64Array(kh * kw * shown);
    for (let ch = 0; ch < shown; ch++) {
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) values[i * kw * shown + ch * kw + j] = w[(ch * kh + i) * kw + j];
    }
    return paintSigned(canvas, values, kw * shown, kh);
  }
  if (shape.length === 2) return paintSigned(canvas, w, shape[1], shape[0]);
  const side = Math.ceil(Math.sqrt(w.length));
  const values = new Float64Array(side * side);
  values.set(w);
  return paintSigned(canvas, values, side, side);
}

export function drawPacked(canvas, packed, width, height) {
  const b = bytes(packed.d);
  paint(canvas, width, height, (i) => diverging(b[i] / 255));
}

// Values of a layer on one scale: >= 0 everywhere on white-to-ink, either sign on the diverging scale.
export function scaleFor(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  return lo >= 0 ? (v) => sequential(v / m) : (v) => diverging(0.5 + 0.5 * v / m);
}

// A grid of unit cells on one canvas (coloured by scaleFor, or by colour(v)); returns the geometry to find the
// unit under the mouse.
export function drawUnitGrid(canvas, values, maxWidth = 300, colour = scaleFor(values)) {
  const n = values.length;
  const cols = Math.min(n, Math.max(1, Math.ceil(Math.sqrt(n * 2.5))));
  const rows = Math.ceil(n / cols);
  const cell = Math.max(4, Math.min(24, Math.floor(maxWidth / cols)));
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < n; i++) {
    const c = colour(values[i]);
    ctx.fillStyle = `rgb(${c[0] | 0}, ${c[1] | 0}, ${c[2] | 0})`;
    ctx.fillRect((i % cols) * cell + 1, Math.floor(i / cols) * cell + 1, cell - 2, cell - 2);
  }
  return { cols, cell, n, unitAt: (x, y) => {
    const i = Math.floor(y / cell) * cols + Math.floor(x / cell);
    return i >= 0 && i < n && x < cols * cell ? i : -1;
  } };
}

export function unitTable(rows) {
  return el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", { class: "muted", text: k }), el("td", { text: v }))));
}

export { fmt };
