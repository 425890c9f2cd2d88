"use strict";
// What Starling knows beyond the live status: recent traffic (a chart drawn here, no library),
// model versions with the gate's verdict and a promote control, the A/B report, the pipeline's
// plots and the link to Ray's dashboard. `call`, `say` and `cell` come from ops.js, which calls
// insightsConnected() once the key works and insightsTick() with every status refresh.
const SVG_NS = "http://www.w3.org/2000/svg";
const SLOW_REFRESH_MS = 30000;
let slowTimer = null;
const plotUrls = [];

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function linePath(points, key, x, y) {
  let path = "";
  let pen = "M";
  points.forEach((p, i) => {
    if (p[key] === null) { pen = "M"; return; }
    path += `${pen}${x(i).toFixed(1)},${y(p[key]).toFixed(1)} `;
    pen = "L";
  });
  return path.trim();
}

function drawTraffic(points) {
  const chart = document.getElementById("traffic-chart");
  const width = Number(chart.getAttribute("width"));
  const height = Number(chart.getAttribute("height"));
  const left = 40, right = 50, top = 10, bottom = 20;
  const maxRate = Math.max(1, ...points.map(p => p.requests));
  const maxMs = Math.max(1, ...points.flatMap(p => [p.p50_ms, p.p99_ms]).filter(v => v !== null));
  const step = (width - left - right) / points.length;
  const x = i => left + (i + 0.5) * step;
  const yRate = v => height - bottom - (v / maxRate) * (height - top - bottom);
  const yMs = v => height - bottom - (v / maxMs) * (height - top - bottom);
  chart.replaceChildren();
  points.forEach((p, i) => {
    if (p.requests === 0) return;
    const y = yRate(p.requests);
    chart.append(svg("rect", { class: "rate", x: left + i * step, y, width: Math.max(1, step - 1), height: height - bottom - y }));
  });
  for (const [key, name] of [["p50_ms", "p50"], ["p99_ms", "p99"]]) {
    const d = linePath(points, key, x, yMs);
    if (d) chart.append(svg("path", { class: name, d }));
    // A lone second draws no line: each second's value shows as a dot as well.
    points.forEach((p, i) => {
      if (p[key] !== null) chart.append(svg("circle", { class: name, cx: x(i), cy: yMs(p[key]), r: 1.5 }));
    });
  }
  chart.append(svg("text", { x: 2, y: top + 8 }, `${maxRate}/s`));
  chart.append(svg("text", { x: width - right + 4, y: top + 8 }, `${maxMs.toFixed(0)} ms`));
  chart.append(svg("text", { x: left, y: height - 4 }, "−120 s"));
  chart.append(svg("text", { x: width - right - 20, y: height - 4 }, "now"));
  const total = points.reduce((sum, p) => sum + p.requests, 0);
  const last = points.filter(p => p.requests > 0).at(-1);
  const recent = points.slice(-10).reduce((sum, p) => sum + p.requests, 0) / 10;
  chart.dataset.requests = String(total);
  document.getElementById("traffic-summary").textContent = total === 0
    ? "No /recommend answers in the last two minutes."
    : `${total} answers in the last two minutes, ${recent.toFixed(1)}/s over the last 10 s; `
      + `latest second p50 ${last.p50_ms.toFixed(1)} ms, p99 ${last.p99_ms.toFixed(1)} ms.`;
}

function percent(rate) {
  return `${(100 * rate.rate).toFixed(2)} % [${(100 * rate.low).toFixed(2)}, ${(100 * rate.high).toFixed(2)}]`;
}

async function loadAbResults() {
  const hours = Number(document.getElementById("ab-window").value) || 24;
  const body = document.getElementById("ab-results");
  try {
    const report = await call(`/admin/abtest?window_hours=${hours}`);
    body.replaceChildren();
    if (report.variants.length === 0) {
      cell(body.insertRow(), "No impressions landed in the lake yet.").colSpan = 7;
    }
    for (const v of report.variants) {
      const row = body.insertRow();
      row.className = "variant";
      row.dataset.variant = `${v.experiment}/${v.variant}`;
      cell(row, v.experiment);
      cell(row, v.variant);
      cell(row, v.users, "num");
      cell(row, v.impressions, "num");
      cell(row, percent(v.ctr), "ctr");
      cell(row, percent(v.rating_rate));
      cell(row, v.mean_rating === null ? null : v.mean_rating.toFixed(2), "num");
    }
  } catch (error) {
    say("Could not read the A/B report: " + error.message, true);
  }
}

function metricsText(metrics) {
  return Object.entries(metrics).slice(0, 3).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ");
}

async function promoteVersion(version) {
  const ref = version.ref;
  const verdict = version.verdict;
  if (verdict && verdict.action === "refused"
      && !confirm(`The gate refused ${ref.name} ${ref.version}: ${verdict.reasons.join("; ")}. Promote anyway?`)) {
    return;
  }
  say(`Promoting ${ref.kind} ${ref.name} ${ref.version}…`);
  try {
    const done = await call("/admin/models/promote", { kind: ref.kind, name: ref.name, version: ref.version });
    say(done.live ? `${ref.kind} ${ref.name} ${ref.version} serves now.`
      : `${ref.kind} ${ref.name} ${ref.version} will serve from the next deploy (no app runs).`);
  } catch (error) {
    say(`Promoting ${ref.name} ${ref.version} failed: ${error.message}`, true);
  }
  await loadVersions();
}

async function loadVersions() {
  const kind = document.getElementById("version-kind").value;
  const body = document.getElementById("versions");
  try {
    const found = await call(`/admin/models/versions?kind=${kind}`);
    body.replaceChildren();
    for (const v of found) {
      const row = body.insertRow();
      row.className = "version";
      row.dataset.version = `${v.ref.name}:${v.ref.version}`;
      cell(row, `${v.ref.name} ${v.ref.version}`, v.serving ? "serving" : "");
      cell(row, new Date(v.created).toLocaleString());
      cell(row, metricsText(v.metrics));
      const verdict = v.verdict
        ? `${v.verdict.action.replace("_", " ")}${v.verdict.reasons.length ? ": " + v.verdict.reasons.join("; ") : ""}`
        : "not judged by the gate";
      cell(row, verdict, v.verdict ? `verdict ${v.verdict.action}` : "verdict");
      const control = row.insertCell();
      if (v.serving) {
        control.textContent = "serving";
        control.className = "serving";
      } else {
        const button = document.createElement("button");
        button.className = "promote";
        button.textContent = v.verdict && v.verdict.action === "refused" ? "Promote anyway" : "Promote";
        button.addEventListener("click", () => promoteVersion(v));
        control.append(button);
      }
    }
  } catch (error) {
    say("Could not read the model versions: " + error.message, true);
  }
}

async function loadPlots() {
  const holder = document.getElementById("plots");
  try {
    const plots = await call("/admin/plots");
    document.getElementById("plots-none").hidden = plots.length > 0;
    while (plotUrls.length) URL.revokeObjectURL(plotUrls.pop());
    holder.replaceChildren();
    for (const plot of plots) {
      const answer = await fetch(`/admin/plots/${plot.name}`, {
        headers: { Authorization: "Bearer " + sessionStorage.getItem("starlingKey") },
      });
      if (!answer.ok) continue;
      const url = URL.createObjectURL(await answer.blob());
      plotUrls.push(url);
      const figure = document.createElement("figure");
      const image = Object.assign(document.createElement("img"), { src: url, alt: plot.title });
      image.dataset.plot = plot.name;
      figure.append(image, Object.assign(document.createElement("figcaption"), { textContent: plot.title }));
      holder.append(figure);
    }
  } catch (error) {
    say("Could not read the plots: " + error.message, true);
  }
}

async function loadDashboardLink() {
  try {
    const found = await call("/admin/ray-dashboard");
    const link = document.getElementById("ray-dashboard");
    link.hidden = found.url === null;
    document.getElementById("ray-dashboard-off").hidden = found.url !== null;
    if (found.url !== null) link.href = found.url;
  } catch (error) {
    say("Could not ask where Ray's dashboard runs: " + error.message, true);
  }
}

function slowRefresh() {
  loadVersions();
  loadAbResults();
  loadDashboardLink();
}

function insightsConnected() {
  slowRefresh();
  loadPlots();
  if (slowTimer === null) slowTimer = setInterval(slowRefresh, SLOW_REFRESH_MS);
}

async function insightsTick() {
  try {
    drawTraffic(await call("/admin/traffic"));
  } catch (error) {
    say("Could not read the recent traffic: " + error.message, true);
  }
}

document.getElementById("version-kind").addEventListener("change", loadVersions);
document.getElementById("ab-refresh").addEventListener("click", loadAbResults);
