// The audit pages of the operator page: a staff member's day, the monthly
// access review, and a patient's access history. They read the activity
// trail and the access log (scope audit); every request they make is
// recorded in the access log in its turn. Data is only set as text.
"use strict";

// allPages follows a list's next links and returns its items, at most max.
async function allPages(path, max) {
  const items = [];
  let truncated = false;
  for (let next = path; next; ) {
    const page = await api(next);
    items.push(...page.items);
    next = page.next || "";
    if (items.length >= max && next) {
      truncated = true;
      break;
    }
  }
  return { items, truncated };
}

// table builds a table of text cells.
function table(headers, rows) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  for (const h of headers) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = cell === undefined || cell === null ? "" : String(cell);
  }
  if (!rows.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = headers.length;
    td.textContent = "None.";
  }
  return t;
}

function heading(text) {
  const h = document.createElement("h3");
  h.textContent = text;
  return h;
}

function para(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

// localDay is [from, to) of a local date "YYYY-MM-DD".
function localDay(day) {
  const from = new Date(day + "T00:00:00");
  return [from, new Date(from.getTime() + 86400000)];
}

function dayKey(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function countBy(items, key) {
  const m = new Map();
  for (const it of items) m.set(key(it), (m.get(key(it)) || 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
}

// ---- a staff member's day ----

async function staffDay() {
  showError("");
  const out = $("staff-out");
  const staff = $("staff").value.trim();
  const [from, to] = localDay($("staff-date").value);
  try {
    const q = new URLSearchParams({ initiator: staff, from: from.toISOString(), to: to.toISOString(), order: "oldest", limit: "1000" });
    const { items, truncated } = await allPages("/v1/activity?" + q, 20000);
    const visits = new Map();
    for (const a of items) {
      const v = visits.get(a.scheduleId) || { visitor: a.visitorId, first: a.time, last: a.time, n: 0, procedure: false };
      v.last = a.time;
      v.n++;
      v.procedure ||= a.type === "ProcedureStarted" || a.type === "ProcedureCompleted";
      visits.set(a.scheduleId, v);
    }
    // A procedure is open when its schedule's whole trail has more
    // starts than completions.
    const open = [];
    for (const [id, v] of visits) {
      if (!v.procedure) continue;
      const trail = await allPages("/v1/activity?" + new URLSearchParams({ scheduleId: id, order: "oldest", limit: "1000" }), 5000);
      const started = trail.items.filter((a) => a.type === "ProcedureStarted").length;
      const done = trail.items.filter((a) => a.type === "ProcedureCompleted").length;
      if (started > done) open.push([id, v.visitor, started, done]);
    }
    out.replaceChildren(
      para(`${staff} recorded ${items.length} events on ${visits.size} visits${truncated ? " (the first 20,000 shown)" : ""}.`),
      heading("Events by type"),
      table(["type", "events"], countBy(items, (a) => a.type)),
      heading("Visits handled"),
      table(["schedule", "visitor", "first", "last", "events"], [...visits].map(([id, v]) => [id, v.visitor, fmtTime(v.first), fmtTime(v.last), v.n])),
      heading("Procedures started and not completed"),
      table(["schedule", "visitor", "started", "completed"], open),
    );
  } catch (err) {
    showError(err.message);
  }
}

// ---- the monthly access review ----

function monthRange() {
  const [y, m] = $("review-month").value.split("-").map(Number);
  return [new Date(y, m - 1, 1), new Date(y, m, 1)];
}

function minutes(hhmmValue) {
  const [h, m] = hhmmValue.split(":").map(Number);
  return h * 60 + m;
}

const reads = new Set(["view", "list", "export"]);

async function review() {
  showError("");
  const out = $("review-out");
  const [from, to] = monthRange();
  const open = minutes($("open-hour").value || "00:00");
  const close = minutes($("close-hour").value || "24:00");
  try {
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), order: "oldest", limit: "1000" });
    const { items, truncated } = await allPages("/v1/access?" + q, 50000);
    const staff = new Map();
    for (const r of items) {
      const s = staff.get(r.subject) || { view: 0, list: 0, export: 0, command: 0, erase: 0 };
      s[r.action] = (s[r.action] || 0) + 1;
      staff.set(r.subject, s);
    }
    const outside = items.filter((r) => {
      const d = new Date(r.time);
      const t = d.getHours() * 60 + d.getMinutes();
      return reads.has(r.action) && (t < open || t >= close);
    });
    const exports = items.filter((r) => r.action === "export");
    // Reads of a patient on a day they had no visit: their schedules'
    // days, from the visitor lists (one request per patient read).
    const visitDays = new Map();
    const views = items.filter((r) => r.action === "view" && r.visitorId);
    const patients = [...new Set(views.map((r) => r.visitorId))].slice(0, 200);
    for (const v of patients) {
      const list = await allPages("/v1/visitors/" + encodeURIComponent(v) + "/schedules?limit=1000", 5000);
      visitDays.set(v, new Set(list.items.filter((s) => s.start).map((s) => dayKey(s.start))));
    }
    const noVisit = views.filter((r) => visitDays.has(r.visitorId) && !visitDays.get(r.visitorId).has(dayKey(r.time)));
    out.replaceChildren(
      para(`${items.length} access records in ${$("review-month").value}${truncated ? " (the first 50,000 reviewed)" : ""}.`),
      heading("Accesses per staff member"),
      table(["subject", "views", "lists", "exports", "commands", "erasures"],
        [...staff].sort((a, b) => a[0].localeCompare(b[0])).map(([s, c]) => [s, c.view, c.list, c.export, c.command, c.erase])),
      heading(`Reads outside clinic hours (${$("open-hour").value}–${$("close-hour").value})`),
      table(["time", "subject", "route", "schedule", "visitor", "client"], outside.map((r) => [fmtTime(r.time), r.subject, r.route, r.scheduleId, r.visitorId, r.client])),
      heading("Exports and their purposes"),
      table(["time", "subject", "route", "rows", "purpose"], exports.map((r) => [fmtTime(r.time), r.subject, r.route, r.rows, r.purpose])),
      heading("Reads of a patient on a day without a visit"),
      table(["time", "subject", "visitor", "schedule", "purpose"], noVisit.map((r) => [fmtTime(r.time), r.subject, r.visitorId, r.scheduleId, r.purpose])),
      ...(patients.length === 200 ? [para("Only the first 200 patients read were checked for a visit that day.")] : []),
    );
  } catch (err) {
    showError(err.message);
  }
}

// downloadReview exports the month's access log as CSV: an export, which
// needs a purpose and is recorded with it.
async function downloadReview() {
  showError("");
  const purpose = window.prompt("Why is this export needed? (recorded in the access log)", "monthly access review");
  if (!purpose) return;
  const [from, to] = monthRange();
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), order: "oldest" });
  const resp = await fetch("/v1/access?" + q, { headers: { Authorization: "Bearer " + state.token, Accept: "text/csv", "X-Purpose": purpose } });
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    showError(`${resp.status} ${body.code || ""}: ${body.detail || resp.statusText}`);
    return;
  }
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await resp.blob());
  a.download = `access-${$("review-month").value}.csv`;
  a.click();
  URL.revokeObjectURL(a.href);
}

// ---- a patient's access history ----

async function patientHistory() {
  showError("");
  const out = $("patient-out");
  const visitor = $("patient-id").value.trim();
  try {
    const { items, truncated } = await allPages("/v1/access?" + new URLSearchParams({ visitorId: visitor, limit: "1000" }), 20000);
    out.replaceChildren(
      para(`${items.length} accesses to ${visitor}'s data${truncated ? " (the newest 20,000)" : ""}, newest first.`),
      table(["time", "who", "action", "what", "schedule", "purpose", "from"],
        items.map((r) => [fmtTime(r.time), r.subject, r.action, r.route, r.scheduleId, r.purpose, r.client])),
    );
  } catch (err) {
    showError(err.message);
  }
}

// ---- wiring ----

function showAuditView(name) {
  for (const v of document.querySelectorAll(".audit-view")) v.hidden = v.id !== name;
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.view === name);
}

(function wireAudit() {
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showAuditView(b.dataset.view));
  showAuditView("staff-day");
  const now = new Date();
  $("staff-date").value = dayKey(now);
  $("review-month").value = dayKey(now).slice(0, 7);
  $("staff-form").addEventListener("submit", (ev) => { ev.preventDefault(); staffDay(); });
  $("review-form").addEventListener("submit", (ev) => { ev.preventDefault(); review(); });
  $("review-csv").addEventListener("click", () => downloadReview().catch((err) => showError(err.message)));
  $("patient-form").addEventListener("submit", (ev) => { ev.preventDefault(); patientHistory(); });
})();
