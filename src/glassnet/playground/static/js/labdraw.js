// Drawing the 2-D playground: the data sets' icons, every unit's map, the links, the output map, the curves.
// Every value drawn comes in a frame from the server; nothing here computes the network.
import { bytes, CLASS_COLOURS, diverging, el, lineChart, paint, rgb } from "./common.js";

const $ = (id) => document.getElementById(id);
const LAYER_COLOURS = ["#0877bd", "#f59322", "#2ea043", "#a349a4", "#d62728", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#1f3b73", "#ff7f0e", "#444"];

// Small pictures of the data sets (icons, not data: the data is made by the server).
export function datasetIcon(name, problem) {
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

export function neurons(f, extras) {
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

function nodeCentres(state) {
  const box = $("network").getBoundingClientRect();
  return [...$("layers").querySelectorAll(".hlayer")].map((col, l) => {
    const sel = l === 0 ? state.features.map((f) => col.querySelector(`canvas[data-feature="${f}"]`)) : [...col.querySelectorAll("canvas")];
    return sel.map((c) => {
      const r = c.getBoundingClientRect();
      return { x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height };
    });
  });
}

export function links(f, state) {
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
  const centres = nodeCentres(state);
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
function outputColours(f, state, extras) {
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

export function output(f, state, extras, hovered) {
  if (!f.output) return;
  const colour = outputColours(f, state, extras);
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

export function charts(history) {
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

