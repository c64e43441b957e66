// The Why? lens of a model's column: which pixels spoke for a class and which against it, the attribution on
// every layer's units (per row for a recurrent layer), what a unit looks for (on hover), and the smallest
// nudge that makes the model change its mind (Fool it). glassnet.explain computes it all in the server.
import { api, bytes, diverging, el, fmt, guarded, paint } from "./common.js";
import { drawUnitGrid, unitTable } from "./glass.js";

const METHODS = [["ig", "integrated gradients"], ["saliency", "saliency"], ["gradxinput", "gradient × input"],
  ["occlusion", "occlusion"]];
const looksFor = new Map(); // model/version/layer/unit -> promise of the picture

function select(options, value, label) {
  const s = el("select", { "aria-label": label });
  for (const [v, text] of options) s.append(el("option", { value: v, text, selected: v === value }));
  return s;
}

// Attribution (packed signed bytes, 128 = 0) over the input, whose ink darkens it a little.
function paintAttribution(canvas, packed, input) {
  const b = bytes(packed);
  paint(canvas, 28, 28, (i) => {
    const c = diverging(b[i] / 255);
    const dim = 1 - 0.3 * (input ? input[i] : 0);
    return [c[0] * dim, c[1] * dim, c[2] * dim];
  });
}

export class Lens {
  // col: the model's column; name: the model; tip: the page's tooltip; use(pixels, text): show a digit on the pad.
  constructor(col, name, tip, use) {
    Object.assign(this, { col, name, tip, use });
    this.on = false;
    this.method = "ig";
    this.target = null; // null: the predicted class
    this.input = null;
    this.version = null;
    this.busy = false;
    this.pending = false;
    this.toggle = el("button", { class: "btn why-toggle", "aria-pressed": "false", title: "why did it say that?", text: "Why?" });
    this.toggle.addEventListener("click", () => this.setOn(!this.on));
    const methods = select(METHODS, this.method, "attribution method");
    methods.addEventListener("change", () => { this.method = methods.value; this.refresh(); });
    this.question = el("span", { class: "why-question" });
    this.canvas = el("canvas", { class: "pixelated why-map", width: 28, height: 28, "aria-label": "attribution" });
    this.caption = el("div", { class: "small muted" });
    this.layers = el("div", { class: "why-layers" });
    const foolMethod = select([["fgsm", "FGSM"], ["pgd", "PGD"]], "fgsm", "attack");
    const foolButton = el("button", { class: "btn why-fool", text: "Fool it" });
    foolButton.addEventListener("click", guarded(() => this.fool(foolMethod.value, foolButton)));
    this.fooled = el("div", { class: "why-fooled" });
    this.panel = el("div", { class: "why", hidden: true },
      el("div", { class: "why-head" }, this.question, methods),
      el("div", { class: "why-main" }, this.canvas,
        el("div", { class: "why-legend small" }, el("div", { class: "legend-scale" }),
          el("div", { class: "scale-labels" }, el("span", { text: "against" }), el("span", { text: "0" }), el("span", { text: "for" })),
          this.caption)),
      this.layers,
      el("div", { class: "why-fool-bar" }, foolButton, foolMethod,
        el("span", { class: "small muted", text: "the smallest nudge of every pixel that changes its answer" })),
      this.fooled);
    const probs = col.querySelector(".probs");
    probs.before(el("div", { class: "why-bar" }, this.toggle));
    probs.after(this.panel);
    probs.addEventListener("click", (e) => { // a class's bar: why this class?
      const row = e.target.closest("[data-class]");
      if (!this.on || !row) return;
      const k = Number(row.dataset.class);
      this.target = k === Number(probs.dataset.prediction) ? null : k;
      this.refresh();
    });
  }

  setOn(on) {
    this.on = on;
    this.toggle.classList.toggle("active", on);
    this.toggle.setAttribute("aria-pressed", String(on));
    this.col.classList.toggle("lens-on", on);
    this.panel.hidden = !on;
    if (on) this.refresh();
  }

  // A new answer of /api/predict for this model: its input is what the lens explains.
  update(r) {
    const changed = this.input === null || r.input.some((v, i) => v !== this.input[i]);
    this.input = r.input;
    this.version = r.version;
    if (changed) this.fooled.replaceChildren();
    if (this.on) this.refresh();
  }

  clear() {
    this.input = null;
    this.layers.replaceChildren();
    this.fooled.replaceChildren();
    this.question.textContent = "";
    this.caption.textContent = "";
    paint(this.canvas, 28, 28, () => [246, 247, 249]);
  }

  refresh() {
    if (!this.on || !this.input) return;
    if (this.busy) { this.pending = true; return; }
    this.busy = true;
    guarded(async () => {
      const body = { model: this.name, pixels: this.input, method: this.method, target: this.target };
      const t0 = performance.now();
      const w = await api("/api/why", { method: "POST", body });
      this.render(w, performance.now() - t0);
    })().finally(() => {
      this.busy = false;
      if (this.pending) { this.pending = false; this.refresh(); }
    });
  }

  render(w, ms) {
    this.version = w.version;
    this.col.dataset.whyTarget = String(w.target);
    this.col.dataset.whyMethod = w.method;
    const said = w.prediction === w.target ? "its answer" : `it says ${w.prediction}`;
    this.question.replaceChildren("Why ", el("b", { text: String(w.target) }), `? (${said})`);
    for (const row of this.col.querySelectorAll(".probs [data-class]")) {
      row.classList.toggle("asked", Number(row.dataset.class) === w.target);
    }
    paintAttribution(this.canvas, w.attribution.d, this.input);
    const name = METHODS.find(([v]) => v === w.method)[1];
    this.caption.textContent = `${name} for class ${w.target}: largest |value| ${fmt(w.attribution.m)}, `
      + `sum ${fmt(w.attribution.total)} · ${Math.round(ms)} ms`;
    this.layers.replaceChildren(...w.layers.map((layer) => this.layerView(w, layer)));
  }

  layerView(w, layer) {
    const what = { units: "a·∂f/∂a per unit", channels: "per channel (summed over its map)", steps: "per unit, summed over the rows" }[layer.kind];
    const box = el("div", { class: "why-layer", "data-layer": layer.name },
      el("div", { class: "name" }, el("b", { text: layer.name }), ` · ${what}`));
    const row = el("div", { class: "why-row" });
    if (layer.steps) { // which rows of the digit the recurrent layer relied on
      const strip = el("canvas", { class: "pixelated why-steps", "aria-label": "attribution per row" });
      const m = Math.max(...layer.steps.map(Math.abs)) || 1;
      paint(strip, 1, layer.steps.length, (i) => diverging(0.5 + 0.5 * layer.steps[i] / m));
      row.append(el("figure", {}, strip, el("figcaption", { text: "rows" })));
    }
    const canvas = el("canvas", { class: "why-units", "aria-label": `${layer.name} attribution` });
    const m = Math.max(...layer.values.map(Math.abs)) || 1; // one scale centred on 0, as the map's
    const grid = drawUnitGrid(canvas, layer.values, 280, (v) => diverging(0.5 + 0.5 * v / m));
    canvas.style.width = `${canvas.width}px`;
    row.append(canvas);
    box.append(row);
    this.hover(canvas, grid, w, layer);
    return box;
  }

  // Hovering a unit: its attribution, and what it looks for (explain.maximize, computed once per version).
  hover(canvas, grid, w, layer) {
    let shown = -1;
    canvas.addEventListener("mousemove", async (e) => {
      const rect = canvas.getBoundingClientRect();
      const j = grid.unitAt((e.clientX - rect.left) * canvas.width / rect.width, (e.clientY - rect.top) * canvas.height / rect.height);
      if (j < 0) { this.tip.hide(); shown = -1; return; }
      if (j === shown) return;
      shown = j;
      const rows = unitTable([["unit", `${layer.name} #${j}`], ["attribution", fmt(layer.values[j])]]);
      this.tip.show(e, [rows, el("div", { class: "muted", text: "finding the input it likes most…" })]);
      const key = `${this.name}/${w.version}/${layer.index}/${j}`;
      if (!looksFor.has(key)) {
        looksFor.set(key, api("/api/why/looks-for", { method: "POST", body: { model: this.name, layer: layer.index, unit: j } })
          .catch((err) => { looksFor.delete(key); throw err; }));
      }
      try {
        const p = await looksFor.get(key);
        if (shown !== j) return;
        const c = el("canvas", { class: "pixelated looks-for" });
        const b = bytes(p.picture);
        paint(c, 28, 28, (i) => { const v = 255 - b[i]; return [v, v, v]; });
        this.tip.show(e, [rows, c, el("div", { class: "muted", text: "what it looks for (dark: ink)" })]);
      } catch (err) {
        if (shown === j) this.tip.show(e, [rows, el("div", { class: "muted", text: err.message })]);
      }
    });
    canvas.addEventListener("mouseleave", () => { this.tip.hide(); shown = -1; });
  }

  async fool(method, button) {
    if (!this.input) return;
    button.disabled = true;
    this.fooled.replaceChildren(el("span", { class: "small muted", text: "nudging…" }));
    try {
      const f = await api("/api/why/fool", { method: "POST", body: { model: this.name, pixels: this.input, method } });
      if (!f.fooled) {
        this.fooled.replaceChildren(el("p", { class: "small", text: `${method.toUpperCase()} cannot change its answer ${f.before} within eps ${f.max_eps}.` }));
        return;
      }
      const c = el("canvas", { class: "pixelated why-nudged", "aria-label": "the nudged digit" });
      paint(c, 28, 28, (i) => { const v = f.pixels[i] * 255; return [v, v, v]; });
      const p = Math.max(...f.probabilities);
      const again = el("button", { class: "btn", text: "Show it to every model" });
      again.addEventListener("click", () => this.use(f.pixels, `${this.name}'s ${f.before} nudged by ${method.toUpperCase()}, eps ${f.eps}`));
      this.fooled.dataset.after = String(f.after);
      this.fooled.replaceChildren(el("div", { class: "why-main" }, c, el("div", { class: "small" },
        el("div", {}, "Now it says ", el("b", { class: "why-after", text: String(f.after) }), ` (${(100 * p).toFixed(1)}%), not ${f.before}.`),
        el("div", { class: "muted", text: `${method.toUpperCase()}, eps = ${f.eps}: no pixel moved by more than ${f.change}.` }),
        again)));
    } finally {
      button.disabled = false;
    }
  }
}
