// The lcphone inspector: a live journal, and the admin actions. Plain JavaScript, no dependencies.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="lcphone-csrf"]').content;
  const base = document.querySelector('meta[name="lcphone-base"]').content;
  const table = document.querySelector("#journal-table tbody");
  // A proxy's page has a column more: the verdict on the target's answer.
  const answers = document.querySelector("#journal-table th.answer") !== null;
  const state = { last: 0, total: 0, entries: [], open: new Set(), showTokens: false };
  const filters = {
    location: document.getElementById("filter-location"),
    operation: document.getElementById("filter-operation"),
    violations: document.getElementById("filter-violations"),
    tokens: document.getElementById("show-tokens"),
  };

  async function call(method, path, body, contentType) {
    const headers = { "X-Lcphone-Csrf": csrf };
    if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
    const response = await fetch(path, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || `${response.status}`);
    return answer;
  }

  function say(text, error) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.className = error ? "error" : "";
    box.style.display = "block";
  }

  function remember(text) { sessionStorage.setItem("lcphone-message", text); location.reload(); }
  const kept = sessionStorage.getItem("lcphone-message");
  if (kept) { sessionStorage.removeItem("lcphone-message"); say(kept); }

  function shellQuote(text) { return "'" + String(text).replace(/'/g, "'\\''") + "'"; }

  function curl(entry) {
    const request = entry.request || {};
    const parts = ["curl -s -X " + entry.method];
    if (request.token) parts.push("-H " + shellQuote("Authorization: Bearer " + request.token));
    if (request.version) parts.push("-H " + shellQuote("Version: " + request.version));
    if (request.body !== null && request.body !== undefined) {
      parts.push("-H " + shellQuote("Content-Type: " + (request.contentType || "application/json")));
      parts.push("-d " + shellQuote(request.body));
    }
    parts.push(shellQuote(base + entry.path + (entry.query ? "?" + entry.query : "")));
    return parts.join(" ");
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function answerBroken(entry) { return Boolean(entry.answer && !entry.answer.conforms); }

  function visible(entry) {
    if (filters.violations.checked && entry.conforms && !answerBroken(entry)) return false;
    if (filters.location.value && entry.locationId !== filters.location.value) return false;
    if (filters.operation.value && (entry.operationId || "") !== filters.operation.value) return false;
    return true;
  }

  function render() {
    const rows = document.createDocumentFragment();
    const shown = state.entries.filter(visible).slice(-500).reverse();
    for (const entry of shown) {
      const row = document.createElement("tr");
      row.className = "entry" + (entry.conforms && !answerBroken(entry) ? "" : " broken");
      row.dataset.sequence = entry.sequence;
      cell(row, new Date(entry.at * 1000).toLocaleTimeString(), "muted mono");
      cell(row, entry.method, "mono");
      cell(row, entry.path + (entry.query ? "?" + entry.query : ""), "mono path");
      cell(row, entry.version || "", "muted");
      cell(row, String(entry.status), entry.status >= 500 ? "bad" : entry.status >= 400 ? "warn" : "ok");
      const verdict = cell(row, "");
      const badge = document.createElement("span");
      badge.className = "badge " + (entry.conforms ? "ok" : "bad");
      badge.textContent = entry.conforms ? "kept the contract" : `broke it (${entry.violations.length})`;
      verdict.appendChild(badge);
      if (entry.note) {  // e.g. a 401 for a token the sandbox does not know
        const note = document.createElement("span");
        note.className = "note warn";
        note.textContent = " " + entry.note.split(":")[0];
        verdict.appendChild(note);
      }
      if (answers) row.insertCell().appendChild(answerBadge(entry));
      rows.appendChild(row);
      if (state.open.has(entry.sequence)) rows.appendChild(details(entry));
    }
    table.replaceChildren(rows);
    if (state.entries.length && !performance.getEntriesByName("journal-shown").length) performance.mark("journal-shown");
    document.getElementById("journal-count").textContent =
      `${state.total} request(s) in the journal; ${shown.length} shown` +
      (state.total > state.entries.length ? ` (the newest ${state.entries.length} loaded)` : "");
  }

  function answerBadge(entry) {
    const badge = document.createElement("span");
    const answer = entry.answer;
    if (!answer) {  // refused by the proxy itself: never sent to the target
      badge.className = "badge muted";
      badge.textContent = "not sent";
    } else {
      const counts = new Map();  // "vendor drift", "fidelity gap", "no answer"
      for (const problem of answer.problems) counts.set(problem.verdict, (counts.get(problem.verdict) || 0) + 1);
      badge.className = "badge " + (answer.conforms ? "ok" : "bad");
      badge.textContent = answer.conforms ? "kept the contract"
        : [...counts].map(([verdict, count]) => `${verdict} (${count})`).join(", ");
    }
    return badge;
  }

  function answerProblems(entry, td) {
    for (const problem of entry.answer.problems) {
      const line = document.createElement("div");
      line.className = "violation";
      line.innerHTML = '<span class="bad"></span> <span class="muted"></span> <code></code>';
      line.children[0].textContent = `answer, ${problem.verdict}: ${problem.title}: ${problem.found}`;
      line.children[1].textContent = `[${problem.ledger}] expected:`;
      line.children[2].textContent = problem.expected;
      td.appendChild(line);
    }
    if (entry.answer.conforms) td.insertAdjacentHTML("beforeend", '<div class="ok">The answer kept the contract and the ledger.</div>');
  }

  function details(entry) {
    const row = document.createElement("tr");
    row.className = "details";
    const td = row.insertCell();
    td.colSpan = answers ? 7 : 6;
    for (const violation of entry.violations) {
      const line = document.createElement("div");
      line.className = "violation";
      line.innerHTML = '<span class="bad"></span> <span class="muted"></span> <code></code>';
      line.children[0].textContent = `${violation.field}: ${violation.message}`;
      line.children[1].textContent = `[${violation.rule}] contract:`;
      line.children[2].textContent = violation.contract;
      td.appendChild(line);
    }
    if (!entry.violations.length) td.insertAdjacentHTML("beforeend", '<div class="ok">No rule of the contract broken.</div>');
    if (entry.note) {
      const note = document.createElement("div");
      note.className = "warn";
      note.textContent = entry.note;
      td.appendChild(note);
    }
    if (entry.answer) answerProblems(entry, td);
    const command = document.createElement("pre");
    command.className = "curl";
    command.textContent = curl(entry);
    const copy = document.createElement("button");
    copy.textContent = "copy curl";
    copy.addEventListener("click", (event) => { event.stopPropagation(); navigator.clipboard?.writeText(command.textContent); });
    td.append(command, copy);
    return row;
  }

  table.addEventListener("click", (event) => {
    const row = event.target.closest("tr.entry");
    if (!row) return;
    const sequence = Number(row.dataset.sequence);
    state.open.has(sequence) ? state.open.delete(sequence) : state.open.add(sequence);
    render();
  });

  async function poll() {
    try {
      const query = `after=${state.last}&limit=500` + (state.showTokens ? "&showTokens=true" : "");
      const answer = await call("GET", `/__admin/journal?${query}`);
      if (answer.last < state.last) { state.entries = []; state.open.clear(); }  // a reset started it over
      if (answer.requests.length || answer.last < state.last || answer.total !== state.total) {
        state.entries = state.entries.concat(answer.requests).slice(-10000);
        state.total = answer.total;
        render();
      }
      state.last = answer.last;
      document.getElementById("journal-state").textContent = "live";
    } catch (error) {
      document.getElementById("journal-state").textContent = "not reachable: " + error.message;
    }
    setTimeout(poll, 400);
  }

  for (const control of [filters.location, filters.operation, filters.violations]) control.addEventListener("change", render);
  filters.tokens.addEventListener("change", () => {
    state.showTokens = filters.tokens.checked; state.last = 0; state.entries = []; render();
  });

  function on(id, handler) {
    const element = document.getElementById(id);
    if (!element) return;  // the proxy's page has no sandbox actions
    element.addEventListener(element.tagName === "FORM" ? "submit" : "click", async (event) => {
      event.preventDefault();
      try { await handler(element); } catch (error) { say(error.message, true); }
    });
  }

  on("reset", async () => { await call("POST", "/__admin/reset"); remember("The sandbox is back to its scenario."); });
  on("clear-faults", async () => { await call("DELETE", "/__admin/faults"); remember("No fault is in force."); });
  on("clear-journal", async () => {
    await call("DELETE", "/__admin/journal"); state.entries = []; state.total = 0; render();
  });
  on("fault-form", async (form) => {
    const data = new FormData(form);
    const rule = { operationId: data.get("operationId") };
    if (data.get("status")) rule.status = Number(data.get("status"));
    if (data.get("latencyMs")) rule.latencyMs = Number(data.get("latencyMs"));
    if (data.get("drop")) rule.drop = true;
    if (data.get("times")) rule.times = Number(data.get("times"));
    await call("POST", "/__admin/faults", rule);
    remember("Fault added.");
  });
  on("token-form", async (form) => {
    const data = new FormData(form);
    const scopes = data.getAll("scopes");
    const answer = await call("POST", "/__admin/tokens", { locationId: data.get("locationId"), scopes });
    remember(`Token for ${answer.locationId}: ${answer.token}`);
  });
  on("scenario-form", async (form) => {
    const file = form.querySelector('input[type="file"]').files[0];
    const text = file ? await file.text() : form.querySelector("textarea").value;
    const answer = await call("POST", "/__admin/scenario", text, "application/yaml");
    remember(`Scenario ${answer.scenario} loaded.`);
  });
  document.querySelectorAll("button[data-copy]").forEach((button) =>
    button.addEventListener("click", () => navigator.clipboard?.writeText(button.dataset.copy)));

  poll();
})();

// -- the coverage tab: /__admin/coverage, refreshed while it is shown ---------------------------------------
(function () {
  const tabs = document.querySelectorAll("nav.tabs .tab");
  const panels = { journal: document.getElementById("journal"), coverage: document.getElementById("coverage") };
  let timer = null;
  const text = (value) => document.createTextNode(String(value));
  async function refresh() {
    const response = await fetch("/__admin/coverage", { credentials: "same-origin" });
    if (!response.ok) return;
    const report = await response.json();
    document.getElementById("coverage-percent").textContent = `${report.percent}% of ${report.total} outcomes`;
    const body = document.querySelector("#coverage-table tbody");
    body.replaceChildren(...report.outcomes.map((o) => {
      const row = document.createElement("tr");
      row.className = o.covered ? "covered" : "uncovered";
      for (const value of [o.operation, o.version, o.status, o.outcome, o.covered ? "yes" : "no", o.covered ? "" : o.hint]) {
        const cell = document.createElement("td");
        cell.appendChild(text(value));
        row.appendChild(cell);
      }
      return row;
    }));
  }
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const other of tabs) other.classList.toggle("on", other === tab);
      for (const [name, panel] of Object.entries(panels)) panel.hidden = name !== tab.dataset.tab;
      clearInterval(timer);
      if (tab.dataset.tab === "coverage") { refresh(); timer = setInterval(refresh, 2000); }
    });
  }
})();
