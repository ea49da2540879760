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

// signedIn shows the panels once there is a token, and otherwise what to
// do to get one.
function signedIn(yes) {
  $("sign-in").hidden = yes;
  $("day-panel").hidden = !yes;
  $("schedule-panel").hidden = !yes;
  $("audit-panel").hidden = !yes;
}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    signedIn(false);
    throw new Error("That token was not accepted. Paste a token with the read scope.");
  }
  if (!resp.ok) {
    throw new Error(`${resp.status} ${body.code || ""}: ${body.detail || body.title || resp.statusText}`);
  }
  return body;
}

// fmtTime shows an instant in the browser's time zone, to the second: the
// clinic's own clock, not UTC.
function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  if (isNaN(d)) return t;
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// statusWords is a status as staff say it: "checked in", not the API's
// checked_in, which stays the badge's class.
function statusWords(status) {
  return String(status).replaceAll("_", " ");
}

function badge(status) {
  const span = document.createElement("span");
  span.className = "badge " + status;
  span.textContent = statusWords(status);
  return span;
}

function hhmm(t) {
  return t ? new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
}

// ---- day list ----

async function listDay(next) {
  showError("");
  let path = next;
  if (!path) {
    const day = $("day").value;
    const from = new Date(day + "T00:00:00"); // the local day
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
      // One cell for the slot, so the table fits beside the schedule
      // panel; a walk-in's slot is its stay, open until check-out.
      const when = document.createElement("td");
      when.textContent = hhmm(s.start) + "–" + (s.end ? hhmm(s.end) : "");
      if (s.walkIn) {
        const note = document.createElement("span");
        note.className = "note";
        note.textContent = "walk-in";
        when.append(note);
      }
      tr.append(when);
      for (const text of [s.scheduleId, s.visitorId || ""]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      td.append(badge(s.status));
      tr.append(td);
      tr.addEventListener("click", () => openSchedule(s.scheduleId));
      body.append(tr);
    }
    if (!body.rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 4;
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
    strong.textContent = sentence(e);
    head.append(strong);
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `v${e.version} ${e.type} · ${fmtTime(e.time)} · by ${e.initiator || "?"}`;
    const ul = document.createElement("ul");
    for (const c of e.changes.slice(0, 8)) {
      const item = document.createElement("li");
      const shown = c.path === "/status" ? (v) => (v ? statusWords(v) : showValue(v)) : showValue;
      item.textContent = `${fieldLabel(c.path)}: ${shown(c.before)} → ${shown(c.after)}`;
      ul.append(item);
    }
    if (e.changes.length > 8) {
      const item = document.createElement("li");
      item.textContent = `… ${e.changes.length - 8} more`;
      ul.append(item);
    }
    // The raw record stays one click away, for auditors.
    const raw = document.createElement("details");
    raw.className = "raw";
    const rawSummary = document.createElement("summary");
    rawSummary.textContent = "as recorded";
    const pre = document.createElement("pre");
    pre.textContent = [
      `event ${e.tenantId}/${e.scheduleId}/${e.version} (${e.type}, data schema v${e.dataSchema || 1})`,
      e.predecessorId ? `command ${e.predecessorId}` : "",
      `time ${e.time}`,
      `data ${JSON.stringify(e.data)}`,
      ...e.changes.map((c) => `${c.path}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`),
    ].filter(Boolean).join("\n");
    raw.append(rawSummary, pre);
    raw.addEventListener("click", (ev) => ev.stopPropagation());
    li.append(head, meta, ul, raw);
    li.addEventListener("click", () => showVersion(e.version));
    $("timeline").append(li);
  }
  state.timelineNext = page.next || "";
  $("timeline-more").hidden = !state.timelineNext;
}

// sentence tells what an event means, in the clinic's words. Data is
// shown as recorded: a field an older schema version lacks is left out.
function sentence(e) {
  const d = e.data || {};
  const list = (xs) => (xs || []).join(", ");
  const slot = () => `${fmtTime(d.start)} – ${hhmm(d.end)}`;
  switch (e.type) {
    case "Reserved": return `Reserved for ${d.visitorId}, ${slot()}` + (d.procedures ? ` (${list(d.procedures)})` : "");
    case "Rescheduled": return `Moved to ${slot()}`;
    case "ReservationCanceled": return "Reservation canceled" + (d.by && d.by !== "unrecorded" ? ` by the ${d.by}` : "") + (d.reason ? `: ${d.reason}` : "");
    case "NoShowMarked": return "Marked as no-show";
    case "CheckedIn": return (d.walkIn ? "Walk-in checked in" : "Checked in") + ` at the ${d.channel}` + (d.visitorId ? ` (${d.visitorId})` : "");
    case "ConsultationStarted": return `Consultation started with ${d.counselorId}`;
    case "ConsultationCompleted": return "Consultation completed" + (d.procedures ? `, planning ${list(d.procedures)}` : "");
    case "ProcedureStarted": return `Procedure ${d.procedureId} started by ${d.doctorId}`;
    case "ProcedureCompleted": return `Procedure ${d.procedureId} completed`;
    case "PhotosTaken": return `${d.count} photo${d.count === 1 ? "" : "s"} taken (${d.kind})`;
    case "AftercareStarted": return "After-care started";
    case "AftercareCompleted": return "After-care completed";
    case "CheckedOut": return "Checked out";
  }
  return e.type;
}

// fieldLabel turns a JSON Pointer into the clinic's words:
// /procedures/1/startedAt → "Procedure 2: started at".
const labels = {
  status: "Status", visitorId: "Visitor", reservation: "Reservation", start: "start", end: "end", channel: "channel",
  reservedAt: "booked at", rescheduledAt: "moved at", reschedules: "times moved", canceledAt: "canceled at",
  canceledBy: "canceled by", cancelReason: "reason", noShowAt: "no-show at", checkIn: "Check-in", at: "at",
  walkIn: "walk-in", activity: "In progress", plannedProcedures: "Planned", consultations: "Consultation",
  counselorId: "counselor", startedAt: "started at", completedAt: "completed at", procedures: "Procedure",
  procedureId: "procedure", doctorId: "doctor", photos: "Photo session", kind: "kind", count: "photos",
  aftercare: "After-care", checkedOutAt: "Checked out at",
};

function fieldLabel(path) {
  const parts = path.split("/").slice(1);
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (/^\d+$/.test(p)) {
      out[out.length - 1] += " " + (Number(p) + 1);
    } else {
      out.push(labels[p] || p);
    }
  }
  return out.length > 1 ? out[0] + ": " + out.slice(1).join(" ") : out[0] || path;
}

// showValue shows a changed value: times in local time, nothing as "—".
function showValue(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)) return fmtTime(v);
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
  signedIn(Boolean(state.token));
  $("auth").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    localStorage.setItem("rewind.token", state.token);
    signedIn(Boolean(state.token));
    if (state.token) listDay();
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem("rewind.token");
    state.token = "";
    $("token").value = "";
    signedIn(false);
  });
  const today = new Date();
  $("day").value = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
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
    if (v) showInstant(new Date(v.length === 16 ? v + ":00" : v).toISOString()); // local time, as typed
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
