// git covenant web console: plain JavaScript over the gateway's /v1 API.
// It never sees the token after sign-in (the session cookie is HttpOnly);
// writes send the session's CSRF token in X-Covenant-CSRF. Every text
// from the repository is put in the page as text, never as markup.
"use strict";

const state = { session: null, workflow: null, tasks: new Map(), runs: [], grants: [], events: null, activity: [], route: "", verify: null };

// el builds an element: el("div", {class: "x"}, "text", child, ...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function flash(msg, error) {
  const f = document.getElementById("flash");
  f.textContent = msg || "";
  f.className = error ? "error" : "";
}

class APIError extends Error {
  constructor(status, problem) { super(problem.message || ("HTTP " + status)); this.status = status; this.problem = problem; }
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  if (method !== "GET" && state.session && state.session.csrf) opts.headers["X-Covenant-CSRF"] = state.session.csrf;
  const r = await fetch(path, opts);
  const text = await r.text();
  let v = null;
  try { v = text ? JSON.parse(text) : null; } catch (_) { v = { message: text }; }
  if (!r.ok) {
    if (r.status === 401 && path !== "/v1/session") { signedOut(); }
    throw new APIError(r.status, v || {});
  }
  return v;
}

function short(s) { return s ? String(s).slice(0, 12) : ""; }
function when(t) { if (!t) return ""; const d = new Date(t); return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").slice(0, 19) + "Z"; }

// The scope an op type needs (for the proof line).
const opScope = {
  "task.create": "task.create", "task.claim": "task.claim", "task.heartbeat": "task.claim", "task.release": "task.claim",
  "task.move": "task.move", "task.handoff": "task.handoff", "task.comment": "task.comment", "task.link": "task.link",
  "task.check": "task.check", "task.escalate": "task.escalate", "task.resolve": "escalation.resolve",
  "cap.grant": "identity.admin", "cap.revoke": "identity.admin", "task.review": "the gate's review scope",
  "run.record": "the daemon role", "actor.genesis": "its own feed",
};
function scopeOf(type) { return opScope[type] || type; }

// proofLine says whether an op is proven: who signed it (feed and key),
// under which scope, and whether the fold accepted it (signature, key and
// capability checked) or ignored it and why.
function proofLine(e) {
  if (e.rejected) {
    return el("span", { class: "proof bad", "data-proof": "rejected" }, "✗ not proven: " + e.rejected.kind + " — " + e.rejected.reason);
  }
  return el("span", { class: "proof ok", "data-proof": "proven" },
    "✓ signed by " + (e.actor && e.actor.name) + " (key " + short(e.actor && e.actor.key) + ", feed " + (e.feed || "") + "), authorized by " + scopeOf(e.type) + "," +
    " accepted by the fold; evidence: op " + short(e.op));
}

function signedOut() {
  state.session = null;
  if (state.events) { state.events.close(); state.events = null; }
  document.getElementById("nav").hidden = true;
  document.getElementById("signin").hidden = false;
  document.getElementById("view").replaceChildren();
  setLive(false);
}

function setLive(on) {
  const l = document.getElementById("live");
  l.textContent = on ? "live" : "offline";
  l.className = "live" + (on ? " on" : "");
}

async function signedIn(ses) {
  state.session = ses;
  document.getElementById("signin").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = ses.operator + " · " + ses.name + " (" + (ses.scopes || []).join(", ") + ")";
  try { state.workflow = await api("GET", "/v1/workflow"); } catch (e) { flash(e.message, true); }
  await loadTasks();
  listen();
  route();
}

async function loadTasks() {
  const [list, runs] = await Promise.all([api("GET", "/v1/tasks"), api("GET", "/v1/runs").catch(() => [])]);
  state.tasks = new Map(list.map(t => [t.id, t]));
  state.runs = runs || [];
}

// listen follows /v1/events: each op refreshes the task it is on and is
// added to the activity list; run output goes to an open task page.
function listen() {
  if (state.events) state.events.close();
  const es = new EventSource("/v1/events", { withCredentials: true });
  state.events = es;
  es.onopen = () => setLive(true);
  es.onerror = () => setLive(false);
  es.addEventListener("op", async ev => {
    let e;
    try { e = JSON.parse(ev.data); } catch (_) { return; }
    state.activity.unshift(e);
    state.activity.length = Math.min(state.activity.length, 200);
    if (e.task) {
      try {
        const t = await api("GET", "/v1/tasks/" + encodeURIComponent(e.task));
        state.tasks.set(t.id, t);
      } catch (_) { /* not readable: leave it */ }
      if (e.type === "run.record") { state.runs = await api("GET", "/v1/runs").catch(() => state.runs); }
    }
    refresh(e);
  });
  es.addEventListener("run-output", ev => {
    let o;
    try { o = JSON.parse(ev.data); } catch (_) { return; }
    const pre = document.querySelector('pre[data-live-output="' + CSS.escape(o.task) + '"]');
    if (pre) pre.append(document.createTextNode(o.text));
  });
  es.addEventListener("end", () => { setLive(false); setTimeout(listen, 1000); });
}

// refresh redraws the current view after a live op.
function refresh(e) {
  const r = state.route;
  if (r === "board") renderBoard();
  else if (r.startsWith("task/") && e.task && r === "task/" + e.task) renderTask(e.task);
  else if (r === "audit") renderAudit();
}

function route() {
  if (!state.session) return;
  const h = location.hash.replace(/^#\/?/, "") || "board";
  state.route = h;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + h.split("/")[0]) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  flash("");
  if (h === "board") renderBoard();
  else if (h.startsWith("task/")) renderTask(decodeURIComponent(h.slice(5)));
  else if (h === "new") renderNew();
  else if (h === "audit") renderAudit();
  else if (h === "identities") renderIdentities();
  else renderBoard();
}

// ---- board ----

const filters = { label: "", agent: "", holder: "", text: "" };

function agentOf(id) {
  let a = "";
  for (const r of state.runs) if (r.task === id) a = r.agent;
  return a;
}

function renderBoard() {
  const view = document.getElementById("view");
  const states = (state.workflow && state.workflow.states) || [...new Set([...state.tasks.values()].map(t => t.state))];
  const tasks = [...state.tasks.values()];
  const labels = [...new Set(tasks.flatMap(t => t.labels || []))].sort();
  const holders = [...new Set(tasks.map(t => t.lease && t.lease.holder).filter(Boolean))].sort();
  const agents = [...new Set(state.runs.map(r => r.agent))].sort();
  const sel = (name, opts) => el("label", {}, name,
    el("select", { name, "aria-label": "filter by " + name, onchange: ev => { filters[name] = ev.target.value; renderBoard(); } },
      el("option", { value: "" }, "any"), opts.map(o => el("option", { value: o, selected: filters[name] === o }, o))));
  const bar = el("div", { class: "filters", role: "search" },
    sel("label", labels), sel("agent", agents), sel("holder", holders),
    el("label", {}, "text", el("input", { type: "search", value: filters.text, "aria-label": "filter by text",
      onchange: ev => { filters.text = ev.target.value; renderBoard(); } })));
  const keep = t => (!filters.label || (t.labels || []).includes(filters.label)) &&
    (!filters.holder || (t.lease && t.lease.holder) === filters.holder) &&
    (!filters.agent || agentOf(t.id) === filters.agent) &&
    (!filters.text || (t.title + " " + t.id).toLowerCase().includes(filters.text.toLowerCase()));
  const board = el("div", { class: "board", id: "board" });
  for (const s of states) {
    const col = tasks.filter(t => t.state === s && keep(t)).sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    const shown = col.slice(0, 300);
    board.append(el("section", { class: "column", "data-state": s, "aria-label": s },
      el("h3", {}, s, " ", el("span", { class: "n" }, "(" + col.length + ")")),
      shown.map(card), col.length > shown.length ? el("p", { class: "muted" }, (col.length - shown.length) + " more; filter to see them") : null));
  }
  const act = el("section", { "aria-label": "recent activity" }, el("h2", {}, "Recent activity"),
    state.activity.length ? el("ul", { id: "activity" }, state.activity.slice(0, 20).map(e => el("li", {},
      el("code", {}, e.type), " ", e.task ? el("a", { href: "#/task/" + e.task }, e.task) : "", " by ", (e.actor && e.actor.name) || "", " ", proofLine(e))))
      : el("p", { class: "muted" }, "Nothing new since this page opened."));
  view.replaceChildren(el("h2", {}, "Board"), bar, board, act);
}

function card(t) {
  const holder = t.lease && t.lease.holder;
  return el("a", { class: "card", href: "#/task/" + t.id, "data-task": t.id },
    el("div", { class: "t" }, t.title),
    el("div", { class: "meta" }, t.id, " · ", t.priority, holder ? " · held by " + holder + " (epoch " + t.lease.epoch + ")" : ""),
    el("div", {}, (t.labels || []).map(l => el("span", { class: "label" }, l))),
    agentOf(t.id) ? el("div", { class: "meta" }, "agent " + agentOf(t.id)) : null);
}

// ---- task detail ----

async function renderTask(id) {
  const view = document.getElementById("view");
  let t, log, runs;
  try {
    [t, log, runs] = await Promise.all([api("GET", "/v1/tasks/" + encodeURIComponent(id)), api("GET", "/v1/log?task=" + encodeURIComponent(id)), api("GET", "/v1/runs?task=" + encodeURIComponent(id))]);
  } catch (e) { view.replaceChildren(el("h2", {}, "Task " + id), el("p", { class: "proof bad" }, e.message)); return; }
  if (state.route !== "task/" + id) return;
  state.tasks.set(t.id, t);
  const opByID = new Map(log.map(e => [e.op, e]));
  const proofOf = op => { const e = opByID.get(op); return e ? proofLine(e) : el("span", { class: "proof warn" }, "op " + short(op) + " not in this task's log"); };
  const lease = t.lease ? el("p", {}, "Lease: held by ", el("strong", {}, t.lease.holder), ", epoch " + t.lease.epoch + ", until " + when(t.lease.expires_at))
    : el("p", {}, "Lease: none · highest epoch " + t.epoch);
  const gates = Object.values(t.gates || {});
  const wfGates = (state.workflow && state.workflow.gates) || [];
  const gateRows = gates.length ? el("table", { id: "gates" }, el("tr", {}, el("th", {}, "gate"), el("th", {}, "status"), el("th", {}, "by"), el("th", {}, "proof")),
    gates.map(g => el("tr", { "data-gate": g.gate }, el("td", {}, g.gate + " (" + g.kind + ")"),
      el("td", {}, g.satisfied ? "satisfied" : "not satisfied", g.verdict ? " · " + g.verdict : "", g.stale ? " · stale" : "", g.reason ? " · " + g.reason : ""),
      el("td", {}, (g.by && g.by.name) || "", " ", when(g.at), g.note ? " — " + g.note : ""), el("td", {}, proofOf(g.op)))))
    : el("p", { class: "muted" }, "No gate recorded yet.");
  const commits = [...(t.accepted || []).map(a => ({ c: a.commit, why: "accepted by " + a.by.name + ": " + a.reason, op: a.op })),
    ...((t.handoff && t.handoff.commits) || []).map(c => ({ c, why: "in the last handoff", op: t.handoff.op }))];
  const hist = el("table", { id: "history" }, el("tr", {}, el("th", {}, "when"), el("th", {}, "op"), el("th", {}, "by"), el("th", {}, "proof")),
    (t.history || []).map(h => el("tr", {}, el("td", {}, when(h.time)), el("td", {}, el("code", {}, h.type), h.summary ? " " + h.summary : "", h.epoch ? " (epoch " + h.epoch + ")" : ""),
      el("td", {}, h.actor && h.actor.name), el("td", {}, proofOf(h.op)))));
  const ignored = (t.ignored_ops || []).map(e => el("li", {}, el("code", {}, e.type), " by " + e.actor.name + " ", proofLine(e)));
  const runRows = runs.length ? el("table", { id: "runs" }, el("tr", {}, el("th", {}, "run"), el("th", {}, "agent"), el("th", {}, "outcome"), el("th", {}, "output"), el("th", {}, "proof")),
    runs.map(r => el("tr", {}, el("td", {}, r.run, el("br"), el("span", { class: "muted" }, r.started)), el("td", {}, r.agent + " as " + r.by.name + " (epoch " + r.epoch + ")"),
      el("td", {}, r.outcome, r.exit_code !== undefined ? " · exit " + r.exit_code : "", " · " + r.duration_ms + " ms"),
      el("td", {}, r.output_bytes + " bytes", r.output_sha256 ? el("div", { class: "muted" }, "sha256 " + short(r.output_sha256)) : null),
      el("td", {}, proofOf(r.op)))))
    : el("p", { class: "muted" }, "No run recorded.");
  const left = el("div", {},
    el("h2", {}, t.title), el("p", { class: "muted" }, t.id, " · ", el("strong", { "data-field": "state" }, t.state), " · ", t.priority, " · created by ", t.created_by.name, " ", when(t.created_at)),
    el("p", {}, "Created: ", proofOf((t.history && t.history[0] && t.history[0].op) || "")),
    t.body ? el("pre", {}, t.body) : null, lease,
    el("h3", {}, "Gates"), gateRows,
    el("h3", {}, "Handoffs (" + t.handoffs + ")"), t.handoff ? el("div", { id: "handoff" }, el("p", {}, t.handoff.summary), el("p", { class: "muted" }, "by " + ((t.handoff.by && t.handoff.by.name) || "") + " " + when(t.handoff.at) + (t.handoff.branch ? " · branch " + t.handoff.branch : "")),
      t.handoff.op ? proofOf(t.handoff.op) : null) : el("p", { class: "muted" }, "None."),
    el("h3", {}, "Commits"), commits.length ? el("ul", {}, commits.map(c => el("li", {}, el("code", {}, short(c.c)), " " + c.why + " ", c.op ? proofOf(c.op) : null))) : el("p", { class: "muted" }, "None recorded."),
    el("h3", {}, "Runs"), runRows, el("h4", {}, "Live output"), el("pre", { "data-live-output": t.id }),
    el("h3", {}, "History"), hist,
    ignored.length ? [el("h3", {}, "Ops the fold ignored"), el("ul", {}, ignored)] : null,
    (t.comments || []).length ? [el("h3", {}, "Comments"), el("ul", {}, t.comments.map(c => el("li", {}, c.by.name + ": " + c.text + " ", proofOf(c.op))))] : null);
  const states = (state.workflow && state.workflow.states) || [];
  const act = (label, fn) => async ev => {
    ev.preventDefault();
    const btn = ev.submitter || ev.target.querySelector("button");
    if (btn) btn.disabled = true;
    try { await fn(new FormData(ev.target)); flash(label + ": done"); renderTask(t.id); }
    catch (e) { flash(label + " refused: " + e.message + (e.problem && e.problem.scope ? " (scope " + e.problem.scope + ")" : ""), true); }
    finally { if (btn) btn.disabled = false; }
  };
  const approvals = wfGates.filter(g => g.kind === "approval");
  const right = el("aside", { class: "actions", "aria-label": "actions" }, el("h3", {}, "Actions"),
    el("form", { id: "start-form", onsubmit: act("Start", () => api("POST", "/v1/tasks/" + t.id + "/start", {})) }, el("button", { type: "submit" }, "Start (claim a lease)")),
    el("form", { id: "move-form", onsubmit: act("Move", fd => api("POST", "/v1/tasks/" + t.id + "/move", { to: fd.get("to") })) },
      el("label", { for: "move-to" }, "Move to"), el("select", { id: "move-to", name: "to" }, states.map(s => el("option", { value: s, selected: s === t.state }, s))), el("button", { type: "submit" }, "Move")),
    el("form", { id: "comment-form", onsubmit: act("Comment", fd => api("POST", "/v1/tasks/" + t.id + "/comment", { text: fd.get("text") })) },
      el("label", { for: "comment-text" }, "Comment"), el("input", { id: "comment-text", name: "text", required: true }), el("button", { type: "submit" }, "Comment")),
    approvals.map(g => el("form", { class: "review-form", "data-gate": g.name, onsubmit: act("Review " + g.name, fd => api("POST", "/v1/tasks/" + t.id + "/review", { gate: g.name, verdict: fd.get("verdict"), note: fd.get("note") || "" })) },
      el("span", {}, "Gate " + g.name), el("input", { name: "note", placeholder: "note", "aria-label": "note for " + g.name }),
      el("button", { type: "submit", name: "verdict", value: "approve" }, "Approve"), el("button", { type: "submit", name: "verdict", value: "reject" }, "Reject"))),
    t.escalation && !t.escalation.resolved_at ? el("form", { id: "resolve-form", onsubmit: act("Resolve", fd => api("POST", "/v1/tasks/" + t.id + "/resolve", { decision: fd.get("decision") })) },
      el("span", {}, "Escalation (" + t.escalation.kind + "): " + t.escalation.reason), el("input", { name: "decision", required: true, "aria-label": "decision" }), el("button", { type: "submit" }, "Resolve")) : null);
  // FormData has no submitter value before Chrome 112's FormData(form, submitter): read it here.
  for (const f of right.querySelectorAll("form.review-form")) {
    f.addEventListener("click", ev => { if (ev.target.name === "verdict") f.dataset.verdict = ev.target.value; }, true);
    f.addEventListener("formdata", ev => ev.formData.set("verdict", f.dataset.verdict || "approve"));
  }
  view.replaceChildren(el("p", {}, el("a", { href: "#/board" }, "← Board")), el("div", { class: "detail" }, left, right));
}

// ---- create ----

function renderNew() {
  const view = document.getElementById("view");
  const form = el("form", { class: "stack", id: "new-form", onsubmit: async ev => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    const labels = String(fd.get("labels") || "").split(",").map(s => s.trim()).filter(Boolean);
    try {
      const t = await api("POST", "/v1/tasks", { title: fd.get("title"), body: fd.get("body") || "", labels, priority: fd.get("priority") });
      state.tasks.set(t.id, t);
      location.hash = "#/task/" + t.id;
    } catch (e) { flash("Create refused: " + e.message + (e.problem && e.problem.scope ? " (scope " + e.problem.scope + ")" : ""), true); }
  } },
    el("label", { for: "new-title" }, "Title"), el("input", { id: "new-title", name: "title", required: true }),
    el("label", { for: "new-body" }, "Body"), el("textarea", { id: "new-body", name: "body", rows: 5 }),
    el("label", { for: "new-labels" }, "Labels (comma-separated)"), el("input", { id: "new-labels", name: "labels" }),
    el("label", { for: "new-priority" }, "Priority"), el("select", { id: "new-priority", name: "priority" }, ["low", "medium", "high", "critical"].map(p => el("option", { value: p, selected: p === "medium" }, p))),
    el("button", { type: "submit" }, "Create task"));
  view.replaceChildren(el("h2", {}, "New task"), el("p", { class: "muted" }, "Signed by " + state.session.operator + "; needs task.create on the token and the operator."), form);
}

// ---- audit ----

async function renderAudit() {
  const view = document.getElementById("view");
  let log, ver;
  try { [log, ver] = await Promise.all([api("GET", "/v1/log?limit=300"), api("GET", "/v1/verify")]); }
  catch (e) { view.replaceChildren(el("h2", {}, "Audit"), el("p", { class: "proof bad" }, e.message)); return; }
  if (state.route !== "audit") return;
  const findings = ver.findings || [];
  const sum = el("p", { id: "verify-summary", class: "proof " + (findings.length ? "bad" : "ok") },
    (findings.length ? "✗ " : "✓ ") + "verify: " + ver.feeds + " feeds, " + ver.ops + " ops, " + ver.applied + " applied, " + findings.length + " findings");
  const ft = findings.length ? el("table", { id: "findings" }, el("tr", {}, el("th", {}, "kind"), el("th", {}, "feed"), el("th", {}, "op / commit"), el("th", {}, "reason")),
    findings.map(f => el("tr", {}, el("td", {}, f.kind + (f.severity ? " (" + f.severity + ")" : "")), el("td", {}, f.feed || ""), el("td", {}, el("code", {}, short(f.op || f.commit))), el("td", {}, f.reason)))) : null;
  const lt = el("table", { id: "audit-log" }, el("tr", {}, el("th", {}, "when"), el("th", {}, "op"), el("th", {}, "task"), el("th", {}, "proof")),
    log.slice().reverse().map(e => el("tr", { "data-op": e.op }, el("td", {}, when(e.time)), el("td", {}, el("code", {}, e.type)),
      el("td", {}, e.task ? el("a", { href: "#/task/" + e.task }, e.task) : ""), el("td", {}, proofLine(e)))));
  view.replaceChildren(el("h2", {}, "Audit trail"), sum, ft, el("h3", {}, "Ops, newest first"), lt);
}

// ---- identities and grants ----

async function renderIdentities() {
  const view = document.getElementById("view");
  let tr, grants;
  try { [tr, grants] = await Promise.all([api("GET", "/v1/identities"), api("GET", "/v1/capabilities")]); }
  catch (e) { view.replaceChildren(el("h2", {}, "Identities"), el("p", { class: "proof bad" }, e.message)); return; }
  const ids = el("table", { id: "identities" }, el("tr", {}, el("th", {}, "name"), el("th", {}, "role"), el("th", {}, "key"), el("th", {}, "status")),
    (tr.identities || []).map(i => el("tr", {}, el("td", {}, i.name), el("td", {}, i.role + (i.root ? " · root" : "")), el("td", {}, el("code", {}, short(i.key_id))),
      el("td", {}, i.revoked ? el("span", { class: "proof bad" }, "revoked: " + i.revoked.reason) : el("span", { class: "proof ok" }, "live")))));
  const gt = el("table", { id: "grants" }, el("tr", {}, el("th", {}, "grant"), el("th", {}, "to"), el("th", {}, "scopes"), el("th", {}, "by"), el("th", {}, "")),
    grants.map(g => el("tr", { "data-grant": g.id }, el("td", {}, g.id), el("td", {}, g.to), el("td", {}, (g.scopes || []).join(", "), (g.labels || []).length ? " on " + g.labels.join(", ") : ""),
      el("td", {}, g.by + " ", el("span", { class: "muted" }, "op " + short(g.op))),
      el("td", {}, g.revoked ? el("span", { class: "proof bad" }, "revoked") : el("button", { type: "button", onclick: async () => {
        const reason = prompt("Revoke " + g.id + " (" + (g.scopes || []).join(", ") + " to " + g.to + ")? Reason:");
        if (!reason) return;
        try { await api("POST", "/v1/capabilities/" + encodeURIComponent(g.id) + "/revoke", { reason }); flash("revoked " + g.id); renderIdentities(); }
        catch (e) { flash("Revoke refused: " + e.message, true); }
      } }, "Revoke…")))));
  const form = el("form", { class: "stack", id: "grant-form", onsubmit: async ev => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    const scopes = String(fd.get("scopes")).split(",").map(s => s.trim()).filter(Boolean);
    try { const g = await api("POST", "/v1/capabilities", { to: fd.get("to"), scopes }); flash("granted " + g.id); renderIdentities(); }
    catch (e) { flash("Grant refused: " + e.message, true); }
  } }, el("label", { for: "grant-to" }, "Identity"), el("input", { id: "grant-to", name: "to", required: true }),
    el("label", { for: "grant-scopes" }, "Scopes (comma-separated)"), el("input", { id: "grant-scopes", name: "scopes", required: true }),
    el("button", { type: "submit" }, "Grant"));
  view.replaceChildren(el("h2", {}, "Identities"), ids, el("h2", {}, "Grants"), gt, el("h3", {}, "Grant scopes"), form);
}

// ---- start ----

document.getElementById("signin-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const input = document.getElementById("token");
  try {
    const ses = await api("POST", "/v1/session", { token: input.value.trim() });
    input.value = "";
    flash("");
    await signedIn(ses);
  } catch (e) { flash("Sign-in refused: " + e.message, true); }
});
document.getElementById("signout").addEventListener("click", async () => {
  try { await api("POST", "/v1/session/end", {}); } catch (_) { /* signed out anyway */ }
  signedOut();
});
window.addEventListener("hashchange", route);

(async () => {
  try { await signedIn(await api("GET", "/v1/session")); }
  catch (_) { signedOut(); }
})();
