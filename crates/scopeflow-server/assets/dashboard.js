// scopeflow dashboard: reads the JSON API with a viewer token kept in localStorage.
// No framework and no CDN: plain DOM and SVG, so it works on a network without internet.
"use strict";

const KEY = "scopeflow.token";
const view = document.getElementById("view");

// A token given once in the address (?token=…) is kept and removed from the address bar.
(function takeToken() {
  const params = new URLSearchParams(location.search);
  const t = params.get("token");
  if (t) {
    localStorage.setItem(KEY, t);
    params.delete("token");
    const q = params.toString();
    history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + location.hash);
  }
})();

// Every value from the API goes through esc() before it reaches innerHTML, numbers included:
// an agent (or an old database) may hold a string where a number belongs.
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function bytes(n) {
  n = Number(n || 0);
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function when(s) { return s ? esc(String(s).replace("T", " ").replace(/\.\d+Z$/, "Z")) : '<span class="muted">–</span>'; }
function stateTag(s) { return `<span class="state state-${esc(s)}">${esc(s)}</span>`; }

class AuthError extends Error {}

// Thumbnails need the token, which an <img src> cannot send: each is fetched and shown from a
// blob: URL. Once the browser decoded it, its size is kept on the element (data-natural).
function thumb(f, large) {
  return f.thumbnail ? `<img class="thumb${large ? " large" : ""}" alt="thumbnail of ${esc(f.path)}" data-src="${esc(f.thumbnail)}">` : "";
}
async function loadThumbs() {
  const token = localStorage.getItem(KEY);
  await Promise.all([...view.querySelectorAll("img.thumb[data-src]")].map(async img => {
    // A missing picture must not break the page around it.
    const r = await fetch(img.dataset.src, { headers: { Authorization: "Bearer " + token } }).catch(() => null);
    if (!r || !r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    await new Promise(done => {
      img.onload = () => { img.dataset.natural = img.naturalWidth + "x" + img.naturalHeight; done(); };
      img.onerror = done;
      img.src = url;
    });
  }));
}

async function api(path) {
  const token = localStorage.getItem(KEY);
  if (!token) throw new AuthError("no token");
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (r.status === 401) throw new AuthError("token refused");
  const body = await r.json();
  if (!r.ok) throw new Error(path + ": " + (body.error || r.status));
  return body;
}

function loginForm(reason) {
  view.innerHTML = `<section class="card"><h2>Viewer token</h2>
    <p class="muted">${esc(reason)}. Create one on the server with
    <code>scopeflow server token create --viewer</code> and paste it here (kept in this browser only).</p>
    <form id="login"><input id="token" size="70" placeholder="sf_…" autocomplete="off"> <button>Open</button></form></section>`;
  document.getElementById("login").onsubmit = ev => {
    ev.preventDefault();
    localStorage.setItem(KEY, document.getElementById("token").value.trim());
    route();
  };
  document.body.dataset.state = "login";
}

// ---- SVG charts -------------------------------------------------------------------------
const W = 560, H = 200, PAD = { l: 72, r: 12, t: 10, b: 28 };

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return v => r0 + (v - d0) / span * (r1 - r0);
}
// Labels under the x axis, never overlapping: the first and last always, others only where
// they leave room (about 7 px per character at the chart's font size).
function axisLabels(xs, x, fmt) {
  if (!xs.length) return "";
  const candidates = xs.length > 6 ? [0, Math.floor(xs.length / 3), Math.floor(2 * xs.length / 3), xs.length - 1] : xs.map((_, i) => i);
  const width = i => 7 * String(fmt(xs[i])).length;
  const last = candidates[candidates.length - 1];
  const picks = [];
  for (const i of candidates) {
    const prev = picks[picks.length - 1];
    const room = prev === undefined || x(xs[i]) - x(xs[prev]) >= (width(i) + width(prev)) / 2 + 8;
    if (room) picks.push(i);
    else if (i === last && picks.length > 1) picks[picks.length - 1] = i;
  }
  const anchor = n => n === 0 && picks.length > 1 ? "start" : n === picks.length - 1 && picks.length > 1 ? "end" : "middle";
  return picks.map((i, n) => `<text class="axis-label" x="${x(xs[i]).toFixed(1)}" y="${H - 8}" text-anchor="${anchor(n)}">${esc(fmt(xs[i]))}</text>`).join("");
}

/// A channel's histogram (64 bins over [min, max] from its QC), counts on a log scale so the
/// few bright pixels show beside the background.
function histogram(c) {
  const h = c.histogram || [];
  if (!h.length) return "";
  const w = 280, hh = 120, pad = { l: 8, r: 8, t: 6, b: 22 };
  const logs = h.map(n => Math.log10(1 + n));
  const top = Math.max(1e-9, ...logs);
  const bw = (w - pad.l - pad.r) / h.length;
  const bars = h.map((n, i) => {
    const bh = logs[i] / top * (hh - pad.t - pad.b);
    return `<rect class="hist-bar" x="${(pad.l + i * bw).toFixed(1)}" y="${(hh - pad.b - bh).toFixed(1)}" width="${Math.max(0.5, bw - 0.5).toFixed(1)}" height="${bh.toFixed(1)}" fill="#2f6fdf"><title>${esc(n)} pixels</title></rect>`;
  }).join("");
  return `<figure class="histogram"><figcaption>${esc(c.name ?? c.index)} <span class="muted">pixels per value (log scale)</span></figcaption>
    <svg viewBox="0 0 ${w} ${hh}" width="${w}" role="img" aria-label="histogram of channel ${esc(c.name ?? c.index)}">${bars}
    <line x1="${pad.l}" y1="${hh - pad.b}" x2="${w - pad.r}" y2="${hh - pad.b}" stroke="#ccc"/>
    <text class="axis-label" x="${pad.l}" y="${hh - 6}" text-anchor="start">${figure(c.min)}</text>
    <text class="axis-label" x="${w - pad.r}" y="${hh - 6}" text-anchor="end">${figure(c.max)}</text></svg></figure>`;
}

// When a value comes from a fallback, the table says so.
function acquired(f) {
  if (f.acquired_at) return when(f.acquired_at);
  if (f.modified_at) return `${when(f.modified_at)} <span class="muted fallback" title="the file's metadata has no acquisition time: this is when the file was last modified">(file modified)</span>`;
  return when(null);
}
function instrument(f) {
  if (f.instrument) return esc(f.instrument);
  return `${esc(f.agent)} <span class="muted fallback" title="the file's metadata names no instrument: this is the agent that sent it">(agent)</span>`;
}

/// Bars of `values` over `labels` (categories in order).
function barChart(title, labels, values, fmt, color) {
  const max = Math.max(1, ...values);
  const bw = (W - PAD.l - PAD.r) / Math.max(1, labels.length);
  const y = scale(0, max, H - PAD.b, PAD.t);
  const bars = values.map((v, i) => `<rect class="bar" x="${(PAD.l + i * bw + 1).toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(H - PAD.b - y(v)).toFixed(1)}" fill="${color}"><title>${esc(labels[i])}: ${esc(fmt(v))}</title></rect>`).join("");
  const xl = axisLabels(labels.map((_, i) => i), i => PAD.l + i * bw + bw / 2, i => labels[i]);
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(title)}">
    <line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" stroke="#ccc"/>
    <text x="${PAD.l - 6}" y="${PAD.t + 8}" text-anchor="end">${esc(fmt(max))}</text>${bars}${xl}</svg></figure>`;
}

/// SNR as a line, saturation as dots (red above the alarm threshold), both over time.
function trendChart(series, threshold) {
  const pts = series.points.map(p => ({ ...p, t: Date.parse(p.at) }));
  const ts = pts.map(p => p.t);
  const x = scale(Math.min(...ts), Math.max(...ts), PAD.l, W - PAD.r);
  const snrs = pts.filter(p => p.snr != null);
  const sv = snrs.map(p => p.snr);
  const [lo, hi] = sv.length ? [Math.min(...sv), Math.max(...sv)] : [0, 1];
  const ySnr = scale(lo, hi, H / 2 - 8, PAD.t + 6);
  const sats = pts.map(p => p.saturation_fraction || 0);
  const ySat = scale(0, Math.max(threshold * 2, ...sats), H - PAD.b, H / 2 + 8);
  const line = snrs.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${ySnr(p.snr).toFixed(1)}`).join("");
  const dots = pts.map(p => `<circle class="${p.alarm ? "alarm-dot" : "sat-dot"}" cx="${x(p.t).toFixed(1)}" cy="${ySat(p.saturation_fraction || 0).toFixed(1)}" r="${p.alarm ? 4 : 2.5}" fill="${p.alarm ? "#d23c3c" : "#8a94a6"}"><title>${esc(p.at)}: saturation ${figure(p.saturation_fraction)}</title></circle>`).join("");
  const alarms = pts.filter(p => p.alarm).length;
  return `<figure class="trend"><figcaption><b>${esc(series.instrument)}</b> · ${esc(series.channel)}
    <span class="muted">(${pts.length} files${alarms ? `, <span class="alarm">${alarms} saturation alarm${alarms > 1 ? "s" : ""}</span>` : ""})</span></figcaption>
    <svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="SNR and saturation of ${esc(series.instrument)} ${esc(series.channel)}">
    <text x="${PAD.l - 6}" y="${PAD.t + 8}" text-anchor="end">SNR ${hi.toFixed(1)}</text>
    <text x="${PAD.l - 6}" y="${H / 2 - 6}" text-anchor="end">${lo.toFixed(1)}</text>
    <path d="${line}" fill="none" stroke="#2f6fdf" stroke-width="1.5"/>
    ${snrs.map(p => `<circle cx="${x(p.t).toFixed(1)}" cy="${ySnr(p.snr).toFixed(1)}" r="2" fill="#2f6fdf"><title>${esc(p.at)}: SNR ${figure(p.snr)}</title></circle>`).join("")}
    <text x="${PAD.l - 6}" y="${H / 2 + 18}" text-anchor="end">saturation</text>
    <line x1="${PAD.l}" x2="${W - PAD.r}" y1="${ySat(threshold).toFixed(1)}" y2="${ySat(threshold).toFixed(1)}" stroke="#d23c3c" stroke-dasharray="4 3"><title>alarm threshold ${esc(threshold)}</title></line>
    ${dots}${axisLabels(ts, x, t => new Date(t).toISOString().slice(0, 10))}</svg></figure>`;
}

// ---- pages ------------------------------------------------------------------------------
function fileTable(files, withError) {
  if (!files.length) return '<p class="muted">No files.</p>';
  return `<table class="files"><tr><th></th><th>path</th><th>agent</th><th>state</th><th class="num">size</th><th>format</th><th>acquired</th><th>instrument</th>
    <th class="num">SNR</th><th class="num">saturation</th><th class="num">focus</th><th>${withError ? "error" : "copies"}</th></tr>${files.map(f => `<tr class="clickable" data-id="${esc(f.id)}">
    <td>${thumb(f, false)}</td><td>${esc(f.path)}${f.version > 1 ? ` <span class="muted">v${esc(f.version)}</span>` : ""}</td><td>${esc(f.agent)}</td><td>${stateTag(f.state)}</td>
    <td class="num">${bytes(f.size)}</td><td>${esc(f.format)}</td><td>${acquired(f)}</td><td>${instrument(f)}</td>
    <td class="num">${qcCell(f, "snr")}</td><td class="num">${qcCell(f, "saturation_fraction")}</td><td class="num">${qcCell(f, "focus")}</td>
    <td>${withError ? `<span class="error">${esc(f.error)}</span>` : f.copies.filter(c => c.verified_at).map(c => esc(c.destination)).join(", ")}</td></tr>`).join("")}</table>`;
}
// A figure as people read it: 3 significant digits, small fractions in scientific notation.
function figure(v) {
  if (v == null || v === "") return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return esc(v);
  return esc(n !== 0 && Math.abs(n) < 0.01 ? n.toExponential(2) : Number(n.toPrecision(3)).toString());
}
// The rule an alarm names for each QC figure, to colour the figures that raised one.
const RULE_OF = { snr: "snr_min", saturation_fraction: "saturation_max", focus: "focus_min" };
function alarmed(f, channel, key) {
  return (f.alarms || []).some(a => a.channel === channel && a.rule === RULE_OF[key]);
}
/// One QC figure per channel, in channel order, in the alarm colour where the agent raised one.
function qcCell(f, key) {
  const ch = (f.qc && f.qc.channels) || [];
  if (!ch.length) return '<span class="muted">–</span>';
  return ch.map((c, i) => {
    const idx = c.index ?? i;
    return `<span class="${alarmed(f, idx, key) ? "alarm qc-alarm" : ""}" title="${esc(c.name ?? idx)}">${figure(c[key])}</span>`;
  }).join(" · ");
}
function alarmTable(alarms, withFile) {
  return `<table class="alarms"><tr><th>when</th>${withFile ? "<th>file</th><th>user</th>" : ""}<th>instrument</th><th>channel</th><th>rule</th>
    <th class="num">figure</th><th class="num">threshold</th></tr>${alarms.map(a => `<tr class="alarm${withFile ? " clickable" : ""}" data-id="${esc(a.file_id)}">
    <td>${when(a.at)}</td>${withFile ? `<td>${esc(a.path)}</td><td>${esc(a.user)}</td>` : ""}<td>${esc(a.instrument)}</td>
    <td>${esc(a.channel_name ?? a.channel)}</td><td>${esc(a.rule)}</td><td class="num">${figure(a.value)}</td><td class="num">${figure(a.threshold)}</td></tr>`).join("")}</table>`;
}
function clickableRows() {
  view.querySelectorAll("tr.clickable").forEach(tr => tr.onclick = () => { location.hash = "#file/" + tr.dataset.id; });
}

// ---- Repository exports and the notebook link (issue 16) -----------------------------------
// The API wants the token in a header, which a plain link cannot send: the button fetches the
// export and hands it to the browser as a download.
function exportsCard(f) {
  const eln = typeof f.eln_url === "string" && /^https?:\/\//i.test(f.eln_url)
    ? `<a id="eln-link" href="${esc(f.eln_url)}" target="_blank" rel="noopener noreferrer">${esc(f.eln_url)}</a>`
    : '<span class="muted">–</span>';
  const base = "/api/files/" + encodeURIComponent(f.id);
  // The naming step's verdict (mode warn records it; reject never lets a file this far).
  const problems = f.naming && Array.isArray(f.naming.problems) ? f.naming.problems : null;
  const naming = !problems ? '<span class="muted">not checked</span>'
    : problems.length === 0 ? '<span id="naming">follows the naming convention</span>'
    : `<span id="naming" class="error">breaks naming rules: ${problems.map(p => esc(p.rule)).join(", ")}</span>`;
  return `<section class="card"><h2>Exports</h2><table><tr><th>lab notebook</th><td>${eln}</td></tr>
    <tr><th>file name</th><td>${naming}</td></tr>
    <tr><th>repository</th><td><button class="export" data-path="${esc(base + "/datacite.json")}" data-name="${esc(f.id + "-datacite.json")}">DataCite JSON</button>
    <button class="export" data-path="${esc(base + "/dublin-core.xml")}" data-name="${esc(f.id + "-dublin-core.xml")}">Dublin Core XML</button></td></tr></table></section>`;
}
// A search (or a folder) is a dataset: its records, with the same filters as the list.
function datasetExports(p) {
  const keys = ["folder", "q", "agent", "state", "instrument", "from", "to"];
  const q = new URLSearchParams(keys.filter(k => p.get(k)).map(k => [k, p.get(k)])).toString();
  if (!q) return "";
  const button = (file, label) => `<button class="export" data-path="${esc("/api/datasets/" + file + "?" + q)}" data-name="${esc("dataset-" + file)}">${label}</button>`;
  return `<p id="dataset-exports">This search as a dataset: ${button("datacite.json", "DataCite JSON")} ${button("dublin-core.xml", "Dublin Core XML")}</p>`;
}
function wireExports() {
  document.querySelectorAll("button.export").forEach(b => b.onclick = async () => {
    try {
      const r = await fetch(b.dataset.path, { headers: { Authorization: "Bearer " + localStorage.getItem(KEY) } });
      if (!r.ok) throw new Error(b.dataset.path + ": " + r.status);
      const url = URL.createObjectURL(await r.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = b.dataset.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      console.error("scopeflow dashboard:", e.message);
      b.classList.add("error");
    }
  });
}

const pages = {
  async overview() {
    const o = await api("/api/overview?days=7");
    // One bar per day of the last 7, empty days included, so gaps show.
    const byDay = new Map();
    for (let d = 6; d >= 0; d--) {
      byDay.set(new Date(Date.now() - d * 86400000).toISOString().slice(0, 10), { files: 0, bytes: 0, found: 0 });
    }
    for (const h of o.throughput) {
      const e = byDay.get(h.hour.slice(0, 10));
      if (e) { e.files += h.verified; e.bytes += h.verified_bytes; e.found += h.found; }
    }
    const labels = [...byDay.keys()], vals = [...byDay.values()];
    const states = Object.entries(o.states);
    view.innerHTML = `<section class="card"><h2>Agents</h2>${o.agents.length ? `<table class="agents"><tr><th>agent</th><th>host</th><th>last seen</th>
      <th class="num">queue</th><th class="num">files</th><th class="num">failed</th><th class="num">quarantined</th><th class="num">bytes</th></tr>
      ${o.agents.map(a => `<tr><td>${esc(a.name)}</td><td>${esc(a.host)}</td><td>${when(a.last_seen)}</td><td class="num">${esc(a.queue ?? "–")}</td>
      <td class="num">${esc(a.files)}</td><td class="num ${a.failed ? "error" : ""}">${esc(a.failed)}</td><td class="num ${a.quarantined ? "alarm" : ""}">${esc(a.quarantined)}</td>
      <td class="num">${bytes(a.bytes)}</td></tr>`).join("")}</table>` : '<p class="muted">No agent has reported yet.</p>'}</section>
      <section class="card"><h2>Files by state</h2><div class="stats">${states.map(([s, c]) => `<div class="stat">${stateTag(s)}<b>${esc(c.files)}</b><span class="muted">${bytes(c.bytes)}</span></div>`).join("") || '<span class="muted">none</span>'}
      <div class="stat"><a href="#alarms"><span class="state alarm">QC alarms</span></a><b id="rule-alarms">${figure(o.rule_alarms ?? 0)}</b><span class="muted">raised by the pipelines' qc: rules</span></div>
      <div class="stat"><span class="state alarm">saturated channels</span><b>${figure(o.qc_alarms)}</b><span class="muted">saturation &gt; ${figure(o.saturation_threshold)}</span></div></div></section>
      <section class="card"><h2>Throughput, last 7 days (per day, UTC)</h2><div class="charts">
      ${barChart("files verified", labels, vals.map(v => v.files), figure, "#2c9a55")}
      ${barChart("bytes verified", labels, vals.map(v => v.bytes), bytes, "#2f6fdf")}
      ${barChart("files found", labels, vals.map(v => v.found), figure, "#8a94a6")}</div></section>`;
  },
  async files() {
    const p = new URLSearchParams(location.hash.split("?")[1] || "");
    const res = await api("/api/files?" + p.toString());
    const f = k => esc(p.get(k) || "");
    view.innerHTML = `<section class="card"><h2>Files</h2><form class="filters" id="filters">
      <input name="q" placeholder="search: name, channel, instrument, user" size="36" value="${f("q")}">
      <input name="agent" placeholder="agent" value="${f("agent")}"><input name="instrument" placeholder="instrument" value="${f("instrument")}"><input name="folder" placeholder="folder" value="${f("folder")}">
      <select name="state"><option value="">any state</option>${["discovered", "stable", "processed", "transferred", "verified", "purged", "failed", "quarantined"].map(s => `<option ${p.get("state") === s ? "selected" : ""}>${s}</option>`).join("")}</select>
      <input name="from" placeholder="from YYYY-MM-DD" value="${f("from")}"><input name="to" placeholder="to YYYY-MM-DD" value="${f("to")}"><button>Search</button></form>
      ${fileTable(res.files, false)}<p class="muted">${res.files.length} shown from ${esc(res.offset)}.</p>${res.files.length ? datasetExports(p) : ""}</section>`;
    wireExports();
    document.getElementById("filters").onsubmit = ev => {
      ev.preventDefault();
      const q = new URLSearchParams([...new FormData(ev.target)].filter(([, v]) => v));
      location.hash = "#files?" + q.toString();
    };
    clickableRows();
    await loadThumbs();
  },
  async file(id) {
    const f = await api("/api/files/" + encodeURIComponent(id));
    const ch = (f.qc && f.qc.channels) || [];
    const alarms = f.alarms || [];
    view.innerHTML = `<section class="card"><h2>${esc(f.path)} ${stateTag(f.state)}</h2>
      ${thumb(f, true)}<table><tr><th>agent</th><td>${esc(f.agent)}</td></tr><tr><th>sha256</th><td><code>${esc(f.sha256)}</code></td></tr>
      <tr><th>size</th><td>${bytes(f.size)}</td></tr><tr><th>format</th><td>${esc(f.format)}</td></tr><tr><th>acquired</th><td>${acquired(f)}</td></tr>
      <tr><th>instrument</th><td>${instrument(f)}</td></tr><tr><th>error</th><td class="error">${esc(f.error)}</td></tr></table></section>
      ${exportsCard(f)}
      <section class="card"><h2>QC</h2><table class="qc"><tr><th>channel</th><th class="num">SNR</th><th class="num">saturation</th><th class="num">focus</th></tr>
      ${ch.map((c, i) => `<tr><td>${esc(c.name ?? c.index)}</td>${["snr", "saturation_fraction", "focus"].map(k => `<td class="num${alarmed(f, c.index ?? i, k) ? " alarm qc-alarm" : ""}">${figure(c[k])}</td>`).join("")}</tr>`).join("")}</table>
      <div class="charts">${ch.map(histogram).join("")}</div></section>
      <section class="card"><h2>QC alarms</h2>${alarms.length ? alarmTable(alarms, false) : '<p class="muted">None.</p>'}</section>
      <section class="card"><h2>Copies</h2><table>${f.copies.map(c => `<tr><td>${esc(c.destination)}</td><td>${when(c.verified_at)}</td><td class="error">${esc(c.error)}</td></tr>`).join("")}</table></section>
      <section class="card"><h2>Events</h2><table>${f.events.map(e => `<tr><td>${when(e.at)}</td><td>${esc(e.kind)}</td></tr>`).join("")}</table></section>
      <section class="card"><h2>Metadata</h2><pre>${esc(JSON.stringify(f.inspect, null, 2))}</pre></section>`;
    wireExports();
    await loadThumbs();
  },
  async alarms() {
    const p = new URLSearchParams(location.hash.split("?")[1] || "");
    const res = await api("/api/alarms?" + p.toString());
    const f = k => esc(p.get(k) || "");
    view.innerHTML = `<section class="card"><h2>QC alarms</h2><form class="filters" id="filters">
      <input name="instrument" placeholder="instrument" value="${f("instrument")}"><input name="user" placeholder="user" value="${f("user")}">
      <button>Filter</button></form>
      ${res.alarms.length ? alarmTable(res.alarms, true) : '<p class="muted">No alarms.</p>'}<p class="muted">${res.alarms.length} shown from ${esc(res.offset)}.</p></section>`;
    document.getElementById("filters").onsubmit = ev => {
      ev.preventDefault();
      const q = new URLSearchParams([...new FormData(ev.target)].filter(([, v]) => v));
      location.hash = "#alarms?" + q.toString();
    };
    clickableRows();
  },
  async qc() {
    const t = await api("/api/qc/trends");
    view.innerHTML = `<section class="card"><h2>Saturation alarms (saturation fraction &gt; ${esc(t.threshold)})</h2>
      ${t.alarms.length ? `<table class="alarms"><tr><th>acquired</th><th>instrument</th><th>channel</th><th class="num">saturation</th></tr>
      ${t.alarms.map(a => `<tr class="alarm clickable" data-id="${esc(a.file_id)}"><td>${when(a.at)}</td><td>${esc(a.instrument)}</td><td>${esc(a.channel)}</td><td class="num">${figure(a.saturation_fraction)}</td></tr>`).join("")}</table>` : '<p class="muted">None.</p>'}</section>
      <section class="card"><h2>SNR and saturation over time, per instrument and channel</h2><div class="charts">
      ${t.series.map(s => trendChart(s, t.threshold)).join("") || '<p class="muted">No QC yet.</p>'}</div></section>`;
    clickableRows();
  },
  async retention() {
    const r = await api("/api/retention");
    view.innerHTML = `<section class="card"><h2>Retention</h2><div class="stats">
      <div class="stat">reclaimable<b id="reclaimable">${bytes(r.reclaimable_bytes)}</b><span class="muted">${esc(r.reclaimable_files)} verified files not purged</span></div>
      <div class="stat">purged<b>${esc(r.purged_files)}</b><span class="muted">${bytes(r.purged_bytes)}</span></div></div>
      <div class="charts">${barChart("bytes", ["reclaimable", "purged"], [r.reclaimable_bytes, r.purged_bytes], bytes, "#2c9a55")}</div></section>
      <section class="card"><h2>Kept by the retention robot</h2>${r.kept.length ? `<table class="kept"><tr><th>path</th><th>agent</th><th>reason</th><th>when</th></tr>
      ${r.kept.map(k => `<tr class="clickable" data-id="${esc(k.id)}"><td>${esc(k.path)}</td><td>${esc(k.agent)}</td><td>${esc(k.reason)}</td><td>${when(k.at)}</td></tr>`).join("")}</table>` : '<p class="muted">None.</p>'}</section>`;
    clickableRows();
  },
  async failures() {
    const [q, f] = await Promise.all([api("/api/files?state=quarantined"), api("/api/files?state=failed")]);
    view.innerHTML = `<section class="card"><h2>Quarantined (an operator must look)</h2>${fileTable(q.files, true)}</section>
      <section class="card"><h2>Failed (retried with back-off)</h2>${fileTable(f.files, true)}</section>`;
    clickableRows();
  },
};

async function route() {
  const hash = location.hash.replace(/^#/, "") || "overview";
  const [name, arg] = hash.split(/[/?]/);
  document.querySelectorAll("#nav a").forEach(a => a.classList.toggle("active", a.getAttribute("href") === "#" + name));
  document.body.dataset.state = "loading";
  try {
    if (name === "file") await pages.file(arg);
    else await (pages[name] || pages.overview)();
    document.body.dataset.state = "ready";
  } catch (e) {
    if (e instanceof AuthError) return loginForm(e.message === "no token" ? "This dashboard needs a viewer token" : "The stored token was refused");
    view.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    document.body.dataset.state = "error";
    console.error("scopeflow dashboard:", e.message);
  }
}

window.addEventListener("hashchange", route);
route();
