// seqtool serve: the page. Plain JavaScript, no build step, no network beyond this server.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) sessionStorage.setItem("seqtool-token", params.get("token"));
const token = sessionStorage.getItem("seqtool-token");
const $ = (id) => document.getElementById(id);
// Fetch the Japanese font (served by seqtool from matplotlib-fontja) up front: text laid out before it
// arrives would otherwise keep the fallback's empty boxes.
const cjkFont = document.fonts.load("1em IPAexGothic", "私").catch(() => null);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  let response;
  try {
    response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  } catch (e) {
    throw new Error("the server cannot be reached (" + e.message + ")");
  }
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) throw new Error((data && data.error) || "the server answered " + response.status);
  await cjkFont;
  return data;
}

function showError(id, error) {
  const box = $(id);
  if (error) { box.textContent = "Error: " + error.message; box.hidden = false; } else { box.hidden = true; }
}

async function run(errorId, output, fn) {
  showError(errorId, null);
  try { await fn(); } catch (e) { if (output) output.replaceChildren(); showError(errorId, e); }
}

function modelOf(select) { return select.value || undefined; }

// ---- tabs
for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-selected", String(b === button));
    for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== "tab-" + button.dataset.tab;
    if (button.dataset.tab === "models") loadModels();
    if (button.dataset.tab === "runs") loadRuns();
  });
}

// ---- translate
function heatmap(att) {
  const head = el("tr", {}, el("th"));
  for (const piece of att.source) head.append(el("th", { scope: "col" }, piece));
  const body = el("tbody");
  att.target.forEach((piece, r) => {
    const row = el("tr", { class: "hm-row" }, el("th", { scope: "row" }, piece));
    for (const w of att.weights[r]) {
      row.append(el("td", { title: w.toFixed(3), style: `background: rgba(47, 95, 208, ${Math.min(1, w).toFixed(3)})` }));
    }
    body.append(row);
  });
  return el("div", { class: "heatmap-wrap" },
    el("table", { class: "heatmap", "aria-label": "attention: output pieces by source pieces" }, el("thead", {}, head), body));
}

// Each output piece shaded by how unsure the model was of it (hover: its probability).
function confidence(t) {
  const spaced = /\s/.test(t.text);
  const line = el("p", { class: "confidence", lang: "ja", "aria-label": "output pieces shaded by doubt" });
  [...t.tokens, "</s>"].forEach((piece, i) => {
    const p = t.probs[i];
    const shown = piece === "</s>" ? "⏎" : piece.replace(/\u2581/g, spaced ? " " : "");
    line.append(el("span", { title: `${piece}: p = ${p.toFixed(3)}`, style: `background: rgba(208, 47, 47, ${(0.6 * (1 - p)).toFixed(3)})` }, shown));
  });
  line.append(el("span", { class: "score" }, ` mean log-prob ${t.mean_logprob.toFixed(2)}`));
  return line;
}

async function translate() {
  const output = $("translate-output");
  await run("translate-error", output, async () => {
    const text = $("translate-input").value.trim();
    if (!text) throw new Error("type a sentence to translate");
    const beam = Number($("translate-beam").value) || 1;
    const nbest = Math.min(beam, Number($("translate-nbest").value) || 1);
    const lines = text.split("\n").filter((l) => l.trim());
    // An ensemble is "model,partner" (the server averages their log-probabilities step by step);
    // MBR draws that many samples and keeps the candidate they agree with most.
    const model = modelOf($("translate-model"));
    const partner = modelOf($("translate-partner"));
    const ask = { q: lines, beam, nbest, model: partner && model && partner !== model ? `${model},${partner}` : model, confidence: true };
    const decoding = $("translate-decoding").value;
    if (decoding !== "beam") Object.assign(ask, { mbr: Number($("translate-samples").value) || 16, mbr_metric: decoding });
    const data = await api("/api/translate", { ...ask, attention: true })
      .catch((e) => {
        if (!/no attention/.test(e.message)) throw e;
        return api("/api/translate", ask);
      });
    output.replaceChildren();
    for (const t of data.translations) {
      output.append(el("p", { class: "translation", lang: "ja" }, t.text));
      if (t.probs) output.append(confidence(t));
      if (t.nbest) {
        const list = el("ol", { class: "nbest" });
        for (const c of t.nbest) list.append(el("li", { lang: "ja" }, c.text, el("span", { class: "score" }, c.score.toFixed(3))));
        output.append(list);
      }
      if (t.attention) output.append(heatmap(t.attention));
    }
    const how = decoding === "beam" ? `beam ${beam}` : `MBR (${decoding}) over ${ask.mbr} samples`;
    output.append(el("p", { class: "muted" }, `${data.model}, ${how}, ${data.ms} ms`));
  });
}
$("translate-form").addEventListener("submit", (e) => { e.preventDefault(); translate(); });
$("translate-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); translate(); }
});

// ---- language model
function bars(list, rows, value) {
  list.replaceChildren();
  const top = Math.max(...rows.map(value), 1e-9);
  for (const r of rows) {
    list.append(el("li", {}, el("span", { class: "word" }, r.word),
      el("span", { class: "bar", style: `width: ${(100 * value(r) / top).toFixed(1)}%` }),
      el("span", { class: "score" }, value(r).toFixed(3))));
  }
}
$("next-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const output = $("next-output");
  run("next-error", output, async () => {
    const data = await api("/api/predict-next", { text: $("next-input").value, top: 10, model: modelOf($("lm-model")) });
    bars(output, data.results, (r) => r.probability);
  });
});
$("generate-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const output = $("generate-output");
  run("generate-error", output, async () => {
    const temperature = Number($("generate-temperature").value) || 1;
    const data = await api("/api/generate", { prompt: $("generate-input").value, temperature, num: 3, model: modelOf($("lm-model")) });
    output.replaceChildren(...data.samples.map((s) => el("li", {}, s)));
  });
});

// ---- embeddings
function embeddings(path, body) {
  const output = $("emb-output");
  run("emb-error", output, async () => {
    $("emb-query").textContent = "";
    const data = await api(path, { ...body, model: modelOf($("emb-model")) });
    $("emb-query").textContent = data.query;
    bars(output, data.results, (r) => r.score);
  });
}
$("similar-form").addEventListener("submit", (e) => { e.preventDefault(); embeddings("/api/similar", { word: $("similar-input").value, top: 10 }); });
$("analogy-form").addEventListener("submit", (e) => { e.preventDefault(); embeddings("/api/analogy", { expression: $("analogy-input").value, top: 5 }); });

// ---- models
function curve(rows, metric) {
  const points = rows.filter((r) => typeof r[metric] === "number").map((r, i) => [r.epoch ?? i + 1, r[metric]]);
  if (points.length === 0) return el("span", {}, "-");
  const w = 140, h = 40, xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => (x1 === x0 ? w / 2 : 4 + ((x - x0) / (x1 - x0)) * (w - 8));
  const sy = (y) => (y1 === y0 ? h / 2 : h - 4 - ((y - y0) / (y1 - y0)) * (h - 8));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", w); svg.setAttribute("height", h); svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "curve");
  svg.setAttribute("aria-label", `${metric} per epoch`);
  const title = document.createElementNS(ns, "title");
  title.textContent = `${metric}: ` + ys.map((y) => y.toPrecision(4)).join(", ");
  svg.append(title);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2f5fd0"); line.setAttribute("stroke-width", "2");
  svg.append(line);
  return svg;
}

async function loadModels() {
  const tbody = document.querySelector("#models-table tbody");
  await run("models-error", tbody, async () => {
    const data = await api("/api/models");
    fillPickers(data.models);
    tbody.replaceChildren();
    for (const m of data.models) {
      const best = m.best_value === null ? "-" : `${m.best_metric} ${m.best_value.toPrecision(4)}`;
      const cell = el("td");
      tbody.append(el("tr", {}, el("td", {}, m.name + (m.default ? " *" : "")), el("td", {}, m.kind),
        el("td", {}, m.architecture || "-"), el("td", {}, m.languages.join(" → ")), el("td", {}, best), cell));
      api(`/api/models/${encodeURIComponent(m.name)}/metrics`)
        .then((r) => cell.append(curve(r.metrics, r.metric)))
        .catch(() => cell.append("-"));
    }
  });
}

// ---- runs: each sweep's trials side by side, best first (read-only)
function fmt(v) { return typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : String(v); }

async function loadRuns() {
  const out = $("runs-output");
  await run("runs-error", out, async () => {
    const data = await api("/api/sweeps");
    $("runs-empty").hidden = data.sweeps.length > 0;
    out.replaceChildren();
    for (const sw of data.sweeps) {
      const names = [...new Set(sw.trials.flatMap((t) => Object.keys(t.params)))].sort();
      const better = sw.direction === "maximize" ? (a, b) => b - a : (a, b) => a - b;
      const trials = [...sw.trials].sort((a, b) => (a.value === null) - (b.value === null) || better(a.value, b.value));
      const head = el("tr", {}, ...["trial", "model", "state", sw.metric, "epochs", ...names].map((c) => el("th", { scope: "col" }, c)));
      const body = el("tbody");
      for (const t of trials) {
        const best = sw.best && t.number === sw.best.number;
        body.append(el("tr", best ? { class: "best" } : {}, el("td", {}, t.number + (best ? " *" : "")), el("td", {}, t.model || "-"),
          el("td", {}, t.state), el("td", {}, t.value === null ? "-" : fmt(t.value)), el("td", {}, t.epochs ?? "-"),
          ...names.map((n) => el("td", {}, n in t.params ? fmt(t.params[n]) : "-"))));
      }
      const minutes = (sw.spent_s / 60).toFixed(1);
      out.append(el("h2", {}, `${sw.name}: ${sw.command}, ${sw.metric} (${sw.direction}), ${sw.trials.length} trials, ${minutes} min`),
        el("div", { class: "table-wrap" }, el("table", { class: "runs", "aria-label": `trials of sweep ${sw.name}` }, el("thead", {}, head), body)));
    }
  });
}

function fillPickers(models) {
  for (const select of document.querySelectorAll("select[data-kind]")) {
    const chosen = select.value;
    const mine = models.filter((m) => m.kind === select.dataset.kind && m.served);
    const options = mine.map((m) => el("option", { value: m.name }, m.name + (m.default ? " (default)" : "")));
    if (select.dataset.optional) options.unshift(el("option", { value: "" }, select.dataset.optional));
    select.replaceChildren(...options);
    const keep = mine.find((m) => m.name === chosen) || (!select.dataset.optional && (mine.find((m) => m.default) || mine[0]));
    if (keep) select.value = keep.name;
  }
}

api("/api/models").then((d) => fillPickers(d.models)).catch((e) => showError("translate-error", e));
