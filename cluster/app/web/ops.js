"use strict";
const REFRESH_MS = 2000;
const keyInput = document.getElementById("key");
const message = document.getElementById("message");
let timer = null;
let busy = false;
let connected = false;

function say(text, isError) {
  message.textContent = text;
  message.className = isError ? "error" : "";
}

async function call(path, body) {
  const options = { headers: { Authorization: "Bearer " + sessionStorage.getItem("starlingKey") } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const answer = await fetch(path, options);
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    throw new Error(answer.status + ": " + detail);
  }
  return data;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "–" : text;
  if (className) td.className = className;
  return td;
}

function ms(value) { return value === null ? null : value.toFixed(1); }

function render(status) {
  document.getElementById("app-status").textContent = status.app_status;
  document.getElementById("updated").textContent = new Date(status.updated).toLocaleTimeString();
  const body = document.getElementById("deployments");
  const editing = document.activeElement && document.activeElement.name === "replicas"
    ? document.activeElement.dataset.deployment : null;
  for (const d of status.deployments) {
    let row = body.querySelector(`tr[data-deployment="${d.name}"]`);
    if (!row) {
      row = body.insertRow();
      row.dataset.deployment = d.name;
    }
    const input = row.querySelector("input");
    const typed = input ? input.value : null;
    row.replaceChildren();
    cell(row, d.name);
    cell(row, d.status, d.status);
    cell(row, d.running_replicas, "num running");
    cell(row, d.target_replicas, "num target");
    cell(row, d.min_replicas === null ? null : `${d.min_replicas}..${d.max_replicas}`, "num");
    cell(row, d.ongoing, "num");
    cell(row, ms(d.p50_ms), "num");
    cell(row, ms(d.p99_ms), "num");
    cell(row, d.model);
    const control = row.insertCell();
    const number = document.createElement("input");
    number.type = "number";
    number.min = 1;
    number.max = 64;
    number.name = "replicas";
    number.dataset.deployment = d.name;
    number.value = editing === d.name && typed !== null ? typed : d.target_replicas;
    const apply = document.createElement("button");
    apply.textContent = "Set";
    apply.className = "apply";
    apply.dataset.deployment = d.name;
    apply.addEventListener("click", () => setReplicas(d.name, Number(number.value)));
    control.append(number, " ", apply);
    if (editing === d.name) number.focus();
  }
  const list = document.getElementById("experiments");
  list.replaceChildren();
  if (status.experiments.length === 0) list.append(Object.assign(document.createElement("li"), { textContent: "none configured" }));
  for (const e of status.experiments) {
    const variants = e.variants.map(v => {
      const parts = [v.rank_model ? `rank ${v.rank_model}` : null, v.rerank && overrides(v.rerank) ? `rerank ${overrides(v.rerank)}` : null].filter(Boolean);
      return `${v.name} (weight ${v.weight}${parts.length ? ", " + parts.join(", ") : ""})`;
    });
    list.append(Object.assign(document.createElement("li"), { textContent: `${e.name}: ${variants.join("; ")}` }));
  }
}

function figure(metrics, key, digits) {
  return metrics && metrics[key] !== null && metrics[key] !== undefined ? metrics[key].toFixed(digits) : null;
}

function renderDecisions(decisions) {
  const body = document.getElementById("decisions");
  body.replaceChildren();
  for (const d of decisions) {
    const row = body.insertRow();
    row.className = "decision";
    cell(row, new Date(d.created).toLocaleString());
    cell(row, d.action.replace("_", " "), d.action);
    cell(row, `${d.candidate.name} ${d.candidate.version}`);
    cell(row, d.serving ? `${d.serving.name} ${d.serving.version}` : null);
    cell(row, figure(d.candidate_metrics, "roc_auc", 4), "num");
    cell(row, figure(d.serving_metrics, "roc_auc", 4), "num");
    cell(row, figure(d.candidate_metrics, "calibration", 3), "num");
    cell(row, figure(d.serving_metrics, "calibration", 3), "num");
    cell(row, d.reasons.join("; "));
  }
}

async function rollBack() {
  busy = true;
  say("Rolling the ranker back…");
  try {
    const decision = await call("/admin/models/rollback", { kind: "rank" });
    say(`rank ${decision.candidate.name} ${decision.candidate.version}: ${decision.action.replace("_", " ")}.`, decision.action === "refused");
  } catch (error) {
    say(`Rollback failed: ${error.message}`, true);
  } finally {
    busy = false;
  }
}

// A variant's rerank override lists every policy; only the ones it sets say anything.
function overrides(rerank) {
  return Object.entries(rerank).filter(([, value]) => value !== null).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(" ");
}

async function refresh() {
  if (busy) return;
  try {
    render(await call("/admin/status"));
    document.getElementById("login").hidden = true;
    document.getElementById("board").hidden = false;
    if (message.className === "error") say("");
    if (!connected) {
      connected = true;
      insightsConnected();
    }
  } catch (error) {
    say("Could not read the status: " + error.message, true);
    if (error.message.startsWith("401") || error.message.startsWith("403")) stop();
    return;
  }
  // Apart: an unreadable decision record must not hide the deployments.
  try {
    renderDecisions(await call("/admin/models/decisions?kind=rank&limit=20"));
  } catch (error) {
    say("Could not read the ranker decisions: " + error.message, true);
  }
  await insightsTick();
}

async function setReplicas(name, replicas) {
  busy = true;
  say(`Scaling ${name} to ${replicas} replicas…`);
  try {
    render(await call("/admin/scale", { deployment: name, num_replicas: replicas }));
    say(`${name} runs ${replicas} replicas.`);
  } catch (error) {
    say(`Scaling ${name} failed: ${error.message}`, true);
  } finally {
    busy = false;
  }
}

function stop() {
  clearInterval(timer);
  timer = null;
  connected = false;
  document.getElementById("login").hidden = false;
}

document.getElementById("rollback").addEventListener("click", rollBack);

document.getElementById("login").addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem("starlingKey", keyInput.value);
  keyInput.value = "";
  refresh();
  if (timer === null) timer = setInterval(refresh, REFRESH_MS);
});

if (sessionStorage.getItem("starlingKey")) {
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}
