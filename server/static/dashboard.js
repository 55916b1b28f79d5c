// Candlefish live dashboard: polls /api/stats every second and renders one card per
// release × render mode × preset. No framework, no inline code (the CSP forbids it).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const fmt = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const grade = (ms) => (ms <= 16.7 ? "good" : ms <= 33.4 ? "warn" : "bad");
const gradeFps = (fps) => (fps >= 55 ? "good" : fps >= 28 ? "warn" : "bad");

function setText(id, value) {
  document.getElementById(id).textContent = value;
}

function drawHistogram(svg, counts, edges) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const max = Math.max(1, ...counts);
  const w = 320 / counts.length;
  counts.forEach((count, i) => {
    const h = (count / max) * 100;
    const upper = i < edges.length ? edges[i] : Infinity;
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", String(i * w + 2));
    rect.setAttribute("y", String(104 - h));
    rect.setAttribute("width", String(w - 4));
    rect.setAttribute("height", String(h));
    rect.setAttribute("class", grade(i === 0 ? 0 : edges[i - 1] + 0.01));
    svg.appendChild(rect);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", String(i * w + w / 2));
    label.setAttribute("y", "117");
    label.setAttribute("text-anchor", "middle");
    label.textContent = upper === Infinity ? ">" + edges[edges.length - 1] : "≤" + upper;
    svg.appendChild(label);
  });
  const total = counts.reduce((a, b) => a + b, 0);
  const parts = counts.map((c, i) => {
    const range = i < edges.length ? "≤ " + edges[i] + " ms" : "> " + edges[edges.length - 1] + " ms";
    return range + ": " + (total ? ((100 * c) / total).toFixed(0) : 0) + "%";
  });
  svg.setAttribute("aria-label", "Frame-time histogram. " + parts.join(", "));
  return parts.join(" · ");
}

function render(stats) {
  setText("t-accepted", stats.totals.accepted.toLocaleString());
  setText("t-rejected", stats.totals.rejected.toLocaleString());
  setText("t-duplicates", stats.totals.duplicates.toLocaleString());
  setText("t-samples", stats.totals.samples.toLocaleString());
  setText("t-capped", stats.totals.capped.toLocaleString());
  setText("t-connections", String(stats.totals.connections));
  const rej = Object.entries(stats.totals.rejections).map(([k, v]) => k + " " + v);
  setText("t-rejections", rej.length ? rej.join(", ") : "none");
  setText("window", "(last " + Math.round(stats.window_s / 60) + " min)");

  const container = document.getElementById("series");
  const template = document.getElementById("card");
  const cards = [];
  for (const s of stats.series) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.querySelector(".card-title").textContent = s.release + " · " + s.mode + " · " + s.preset;
    const fps = card.querySelector(".fps");
    fps.textContent = fmt(s.fps);
    if (s.fps !== null) fps.className = "fps " + gradeFps(s.fps);
    for (const key of ["p50", "p95", "p99"]) {
      const el = card.querySelector("." + key);
      const ms = s[key + "_ms"];
      el.textContent = fmt(ms) + " ms";
      el.className = key + " " + grade(ms);
    }
    card.querySelector(".samples").textContent = s.samples.toLocaleString();
    card.querySelector(".dropped").textContent = s.dropped_frames.toLocaleString();
    const legend = drawHistogram(card.querySelector(".hist"), s.histogram, stats.histogram_edges_ms);
    card.querySelector(".hist-legend").textContent = legend;
    cards.push(card);
  }
  if (cards.length) {
    container.replaceChildren(...cards);
  } else {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "No telemetry in the window yet.";
    container.replaceChildren(p);
  }
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/api/stats", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    status.textContent = "Live · updated " + new Date().toLocaleTimeString();
    status.className = "";
  } catch (e) {
    status.textContent = "Cannot reach the server (" + e.message + "); retrying…";
    status.className = "error";
  }
  setTimeout(poll, 1000);
}

poll();
