// Rewind's operator page: pick a schedule, read its timeline, and step
// through its versions. Everything comes from the query API with the
// bearer token typed in; data is only ever set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: localStorage.getItem("rewind.token") || "", id: "", latest: 0, version: 0, entries: new Map(), timelineNext: "", dayNext: "" };

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = !msg;
}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error(`${resp.status} ${body.code || ""}: ${body.detail || body.title || resp.statusText}`);
  }
  return body;
}

function fmtTime(t) {
  if (!t) return "";
  return t.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

function badge(status) {
  const span = document.createElement("span");
  span.className = "badge " + status;
  span.textContent = status;
  return span;
}

function hhmm(t) {
  return t ? t.slice(11, 16) : "";
}

// ---- day list ----

async function listDay(next) {
  showError("");
  let path = next;
  if (!path) {
    const day = $("day").value;
    const from = new Date(day + "T00:00:00Z");
    const to = new Date(from.getTime() + 86400000);
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: "100" });
    if ($("status").value) q.set("status", $("status").value);
    path = "/v1/schedules?" + q;
    $("day-list").tBodies[0].replaceChildren();
  }
  try {
    const page = await api(path);
    const body = $("day-list").tBodies[0];
    for (const s of page.items) {
      const tr = document.createElement("tr");
      tr.dataset.id = s.scheduleId;
      for (const text of [hhmm(s.start), s.end ? hhmm(s.end) : "", s.scheduleId, s.visitorId || ""]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      td.append(badge(s.status));
      if (s.walkIn) td.append(" walk-in");
      tr.append(td);
      tr.addEventListener("click", () => openSchedule(s.scheduleId));
      body.append(tr);
    }
    if (!body.rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 5;
      td.textContent = "No schedules on this day.";
      tr.append(td);
      body.append(tr);
    }
    state.dayNext = page.next || "";
    $("day-more").hidden = !state.dayNext;
  } catch (err) {
    showError(err.message);
  }
}

// ---- one schedule ----

async function openSchedule(id) {
  showError("");
  try {
    const cur = await api("/v1/schedules/" + encodeURIComponent(id));
    state.id = id;
    state.latest = cur.latestVersion;
    state.entries = new Map();
    $("schedule-id").value = id;
    $("slider").max = String(cur.latestVersion);
    $("latest-version").textContent = String(cur.latestVersion);
    $("timeline").replaceChildren();
    $("travel").hidden = false;
    await loadTimeline("/v1/schedules/" + encodeURIComponent(id) + "/timeline?limit=100");
    render(cur);
  } catch (err) {
    showError(err.message);
  }
}

async function loadTimeline(path) {
  const page = await api(path);
  for (const e of page.items) {
    state.entries.set(e.version, e);
    const li = document.createElement("li");
    li.dataset.version = String(e.version);
    const head = document.createElement("div");
    const strong = document.createElement("strong");
    strong.textContent = `v${e.version} ${e.type}`;
    head.append(strong);
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${fmtTime(e.time)} · by ${e.initiator || "?"}` + (e.predecessorId ? ` · command ${e.predecessorId}` : "");
    const ul = document.createElement("ul");
    for (const c of e.changes.slice(0, 8)) {
      const item = document.createElement("li");
      item.textContent = `${c.path}: ${short(c.before)} → ${short(c.after)}`;
      ul.append(item);
    }
    if (e.changes.length > 8) {
      const item = document.createElement("li");
      item.textContent = `… ${e.changes.length - 8} more`;
      ul.append(item);
    }
    li.append(head, meta, ul);
    li.addEventListener("click", () => showVersion(e.version));
    $("timeline").append(li);
  }
  state.timelineNext = page.next || "";
  $("timeline-more").hidden = !state.timelineNext;
}

function short(v) {
  if (v === null || v === undefined) return "∅";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 40 ? s.slice(0, 39) + "…" : s;
}

async function showVersion(v) {
  v = Math.max(1, Math.min(state.latest, v));
  showError("");
  try {
    render(await api(`/v1/schedules/${encodeURIComponent(state.id)}?version=${v}`));
  } catch (err) {
    showError(err.message);
  }
}

async function showInstant(at) {
  showError("");
  try {
    render(await api(`/v1/schedules/${encodeURIComponent(state.id)}?at=${encodeURIComponent(at)}`));
  } catch (err) {
    showError(err.message);
  }
}

// summaryRows: label, the state's top-level key, and how to show it.
const summaryRows = [
  ["Status", "status", (s) => s.status],
  ["Visitor", "visitorId", (s) => s.visitorId],
  ["Reservation", "reservation", (s) => s.reservation && `${fmtTime(s.reservation.start)} – ${hhmm(s.reservation.end)}` +
    (s.reservation.reschedules ? ` (rescheduled ${s.reservation.reschedules}×)` : "") +
    (s.reservation.canceledAt ? ` · canceled${s.reservation.canceledBy ? ` by ${s.reservation.canceledBy}` : ""}` +
      (s.reservation.cancelReason ? `: ${s.reservation.cancelReason}` : "") : "")],
  ["Check-in", "checkIn", (s) => s.checkIn && `${fmtTime(s.checkIn.at)} at ${s.checkIn.channel}${s.checkIn.walkIn ? " (walk-in)" : ""}`],
  ["In progress", "activity", (s) => s.activity],
  ["Planned", "plannedProcedures", (s) => (s.plannedProcedures || []).join(", ")],
  ["Consultations", "consultations", (s) => (s.consultations || []).map((c) => `${c.counselorId}${c.completedAt ? " ✓" : " …"}`).join(", ")],
  ["Procedures", "procedures", (s) => (s.procedures || []).map((p) => `${p.procedureId} by ${p.doctorId}${p.completedAt ? " ✓" : " …"}`).join(", ")],
  ["Photos", "photos", (s) => s.photos && `${s.photos.length} session(s), ${s.photos.reduce((n, p) => n + p.count, 0)} photos`],
  ["After-care", "aftercare", (s) => s.aftercare && (s.aftercare.completedAt ? "done" : "in progress")],
  ["Checked out", "checkedOutAt", (s) => fmtTime(s.checkedOutAt)],
];

function render(resp) {
  state.version = resp.version;
  state.latest = Math.max(state.latest, resp.latestVersion);
  $("slider").max = String(state.latest);
  $("slider").value = String(resp.version);
  $("version").textContent = String(resp.version);
  $("latest-version").textContent = String(state.latest);
  const entry = state.entries.get(resp.version);
  $("event-line").textContent = entry ? `— after ${entry.type} by ${entry.initiator || "?"} at ${fmtTime(entry.time)}` : "";
  const changed = new Set((entry ? entry.changes : []).map((c) => c.path.split("/")[1]));
  const dl = $("summary");
  dl.replaceChildren();
  for (const [label, key, show] of summaryRows) {
    const value = show(resp.state);
    if (!value) continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    if (key === "status") dd.append(badge(value)); else dd.textContent = value;
    dd.dataset.key = key;
    if (changed.has(key)) dd.classList.add("changed");
    dl.append(dt, dd);
  }
  $("state").textContent = JSON.stringify(resp.state, null, 2);
  for (const li of $("timeline").children) {
    const current = li.dataset.version === String(resp.version);
    li.classList.toggle("current", current);
    if (current) li.scrollIntoView({ block: "nearest" });
  }
  $("back").disabled = resp.version <= 1;
  $("forward").disabled = resp.version >= state.latest;
  history.replaceState(null, "", `#schedule=${encodeURIComponent(state.id)}&version=${resp.version}`);
}

// ---- wiring ----

function wire() {
  $("token").value = state.token;
  $("auth").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    localStorage.setItem("rewind.token", state.token);
    listDay();
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem("rewind.token");
    state.token = "";
    $("token").value = "";
  });
  $("day").value = new Date().toISOString().slice(0, 10);
  $("day-form").addEventListener("submit", (ev) => { ev.preventDefault(); listDay(); });
  $("day-next").addEventListener("click", () => listDay(state.dayNext));
  $("open-form").addEventListener("submit", (ev) => { ev.preventDefault(); openSchedule($("schedule-id").value.trim()); });
  $("back").addEventListener("click", () => showVersion(state.version - 1));
  $("forward").addEventListener("click", () => showVersion(state.version + 1));
  $("first").addEventListener("click", () => showVersion(1));
  $("latest").addEventListener("click", () => showVersion(state.latest));
  let pending;
  $("slider").addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(() => showVersion(Number($("slider").value)), 60);
  });
  $("timeline-next").addEventListener("click", () => loadTimeline(state.timelineNext).catch((err) => showError(err.message)));
  $("at-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("at").value;
    if (v) showInstant(new Date(v + (v.length === 16 ? ":00" : "") + "Z").toISOString());
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" && ev.target.type !== "range") return;
    if (ev.key === "ArrowLeft" && state.id) showVersion(state.version - 1);
    if (ev.key === "ArrowRight" && state.id) showVersion(state.version + 1);
  });
  const hash = new URLSearchParams(location.hash.slice(1));
  if (state.token && hash.get("schedule")) {
    openSchedule(hash.get("schedule")).then(() => {
      if (hash.get("version")) showVersion(Number(hash.get("version")));
    });
  } else if (state.token) {
    listDay();
  }
}

wire();
