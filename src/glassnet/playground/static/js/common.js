// Shared by the three pages: the API, errors, colours, pictures from bytes, the drawing pad, charts.
// Nothing here computes a network: every number drawn comes from the server (glassnet itself).

export class ApiError extends Error {}

export async function api(path, { method = "GET", body, raw = false, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer || typeof body === "string") {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError("the glassnet server does not answer (is glassnet playground still running?)");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error || message;
    } catch (e) { /* not JSON */ }
    throw new ApiError(message);
  }
  return raw ? response : response.json();
}

// ------------------------------------------------------------------ messages
let errorTimer = null;

export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { box.hidden = true; }, 8000);
}

export function clearError() {
  document.getElementById("error").hidden = true;
}

export function guarded(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (e) {
      showError(e instanceof ApiError ? e.message : `unexpected error: ${e.message}`);
      if (!(e instanceof ApiError)) console.error(e);
      return undefined;
    }
  };
}

export async function watchHealth() {
  const chip = document.getElementById("health");
  const check = async () => {
    try {
      const h = await api("/api/health");
      chip.textContent = `glassnet ${h.glassnet}` + (h.training ? " · training" : "");
      chip.className = "chip ok";
    } catch (e) {
      chip.textContent = "server stopped";
      chip.className = "chip down";
    }
  };
  await check();
  setInterval(check, 5000);
}

// ------------------------------------------------------------------ colours
const ORANGE = [245, 147, 34];
const WHITE = [246, 247, 249];
const BLUE = [8, 119, 189];
export const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [163, 73, 164], [214, 39, 40]];

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

// v in [0, 1]: orange (0) - white (0.5) - blue (1), TensorFlow Playground's scale.
export function diverging(v) {
  return v < 0.5 ? mix(ORANGE, WHITE, v * 2) : mix(WHITE, BLUE, (v - 0.5) * 2);
}

// v in [0, 1]: white to a dark ink, for activations >= 0 and pictures.
export function sequential(v) {
  return mix([236, 239, 244], [20, 40, 90], v);
}

export function rgb(c, alpha = 1) {
  return `rgba(${c[0] | 0}, ${c[1] | 0}, ${c[2] | 0}, ${alpha})`;
}

export function bytes(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

// Paint a width x height picture into a canvas of that size; colour(i) gives [r, g, b] of value i.
export function paint(canvas, width, height, colour) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const c = colour(i);
    img.data[4 * i] = c[0];
    img.data[4 * i + 1] = c[1];
    img.data[4 * i + 2] = c[2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// Values of either sign, scaled by their largest magnitude, on the diverging scale.
export function paintSigned(canvas, values, width, height) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  paint(canvas, width, height, (i) => diverging(m > 0 ? 0.5 + 0.5 * values[i] / m : 0.5));
  return m;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "style") node.style.cssText = v; // through the CSSOM: the CSP refuses style attributes
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c);
  return node;
}

export function fmt(v, digits = 3) {
  if (v === null || v === undefined) return "–";
  if (Array.isArray(v)) return v.map((x) => fmt(x, digits)).join(", ");
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toFixed(digits);
}

// ------------------------------------------------------------------ tooltip
export function tooltip() {
  let tip = document.getElementById("tooltip");
  if (!tip) {
    tip = el("div", { id: "tooltip", class: "tooltip", role: "tooltip", hidden: true });
    document.body.append(tip);
  }
  return {
    show(event, content) {
      tip.replaceChildren(...content);
      tip.hidden = false;
      const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      const y = Math.min(event.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
      tip.style.left = `${x}px`;
      tip.style.top = `${y}px`;
    },
    hide() { tip.hidden = true; },
  };
}

// ------------------------------------------------------------------ the drawing pad
// Strokes on a canvas, with mouse, pen or touch (pointer events); onChange(pad) after each change,
// at most every `interval` ms while drawing and once more when a stroke ends.
export class DrawPad {
  constructor(canvas, { onChange, interval = 70, width = 18 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange || (() => {});
    this.interval = interval;
    this.width = width;
    this.tool = "pencil";
    this.empty = true;
    this.last = null;
    this.timer = null;
    this.clear(false);
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const ev of ["pointerup", "pointercancel", "pointerleave"]) canvas.addEventListener(ev, () => this.up());
  }

  pos(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width, (e.clientY - r.top) * this.canvas.height / r.height];
  }

  down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.last = this.pos(e);
    this.stroke(this.last, this.last);
  }

  move(e) {
    if (!this.last) return;
    e.preventDefault();
    const p = this.pos(e);
    this.stroke(this.last, p);
    this.last = p;
  }

  up() {
    if (!this.last) return;
    this.last = null;
    this.changed(true);
  }

  stroke(a, b) {
    const ctx = this.ctx;
    ctx.strokeStyle = this.tool === "eraser" ? "#000" : "#fff";
    ctx.lineWidth = this.tool === "eraser" ? this.width * 2.2 : this.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0] + 0.01, b[1]);
    ctx.stroke();
    if (this.tool === "pencil") this.empty = false;
    this.changed(false);
  }

  changed(now) {
    if (now) {
      clearTimeout(this.timer);
      this.timer = null;
      this.onChange(this);
    } else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; this.onChange(this); }, this.interval);
    }
  }

  clear(notify = true) {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
    if (notify) this.onChange(this);
  }

  // Show a 28x28 picture (values 0..1) on the pad, as if drawn.
  showDigit(pixels) {
    const small = document.createElement("canvas");
    paint(small, 28, 28, (i) => { const v = pixels[i] * 255; return [v, v, v]; });
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.empty = false;
  }

  // The drawing, grey (ink bright), reduced to size x size, as the API's {"width", "height", "data"}.
  image(size = 112) {
    const small = document.createElement("canvas");
    small.width = small.height = size;
    const ctx = small.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(this.canvas, 0, 0, size, size);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    let text = "";
    for (let i = 0; i < size * size; i++) text += String.fromCharCode(rgba[4 * i]);
    return { width: size, height: size, data: btoa(text) };
  }
}

// ------------------------------------------------------------------ charts
// series: [{name, colour, points: [[x, y], ...], dash}], drawn on a canvas with axes and a legend.
// cursor: an x where a vertical line marks the chart (the Runs page's epoch).
export function lineChart(canvas, series, { log = false, xLabel = "", yMin = null, yMax = null, cursor = null } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== w * ratio || canvas.height !== h * ratio) {
    canvas.width = w * ratio;
    canvas.height = h * ratio;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  const legend = []; // [x, line] of each named series: as many lines as the names need
  let lx = 46, line = 0;
  for (const s of series) {
    if (!s.name) { legend.push(null); continue; }
    const width = ctx.measureText(s.name).width + 28;
    if (lx + width > w - 10 && lx > 46) { lx = 46; line += 1; }
    legend.push([lx, line]);
    lx += width;
  }
  const pad = { l: 46, r: 10, t: 22 + 13 * line, b: 30 };
  const f = (y) => (log ? Math.log10(Math.max(y, 1e-12)) : y);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, f(y)); y1 = Math.max(y1, f(y));
    }
  }
  if (!Number.isFinite(x0)) {
    ctx.fillStyle = "#889";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText("no data yet", pad.l + 8, pad.t + 18);
    return;
  }
  if (yMin !== null) y0 = f(yMin);
  if (yMax !== null) y1 = f(yMax);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 - y0 < 1e-9) { y1 += 0.5; y0 -= 0.5; }
  const X = (x) => pad.l + (x - x0) / (x1 - x0) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - (f(y) - y0) / (y1 - y0) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#d5d9e0";
  ctx.fillStyle = "#5b6270";
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (y1 - y0) * i / 4;
    const yy = h - pad.b - (h - pad.t - pad.b) * i / 4;
    ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(w - pad.r, yy); ctx.stroke();
    ctx.fillText(fmt(log ? 10 ** v : v, log ? 2 : 3), 2, yy + 4);
  }
  // the ends of the x axis: whole numbers as such (epoch 4, not 4.0), a fraction to one decimal below 10
  const ends = [x0, x1].map((x) => fmt(x, Number.isInteger(x) || x >= 10 ? 0 : 1));
  canvas.dataset.xAxis = ends.join(" to "); // what the axis says, for a reader of the page (and its tests)
  ctx.fillText(ends[0], pad.l, h - 10);
  ctx.fillText(ends[1], w - pad.r - ctx.measureText(ends[1]).width, h - 10);
  if (xLabel) ctx.fillText(xLabel, (w - ctx.measureText(xLabel).width) / 2, h - 10);
  if (cursor !== null && cursor >= x0 && cursor <= x1) {
    ctx.strokeStyle = "#183f74";
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(X(cursor), pad.t); ctx.lineTo(X(cursor), h - pad.b); ctx.stroke();
    ctx.setLineDash([]);
  }
  series.forEach((s, k) => {
    ctx.strokeStyle = s.colour;
    ctx.lineWidth = s.width || 1.6;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) { started = false; continue; }
      if (started) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
      started = true;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    if (legend[k]) {
      const [x, row] = legend[k];
      ctx.fillStyle = s.colour;
      ctx.fillRect(x, 7 + 13 * row, 10, 3);
      ctx.fillStyle = "#3c4350";
      ctx.fillText(s.name, x + 14, 12 + 13 * row);
    }
  });
}

export function nav(active) {
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === active) a.classList.add("active");
  }
  watchHealth();
}
