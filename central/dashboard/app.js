// The evnet dashboard: renders central's state as it streams in (server-sent
// events from /api/stream) and sends the operator's stop / resume, and an
// OCPP charger's Reset, Unlock and TriggerMessage; its History lists the
// books' tickets (/api/tickets), filtered, a page at a time, and downloads
// them as CSV; charts.js draws the charts. Every value goes into the page as
// text, never as HTML.
"use strict";

const LABELS = {
  CP_STATUS_ACTIVE: ["active", "On"],
  CP_STATUS_SUPPLYING: ["supplying", "Supplying"],
  CP_STATUS_STOPPED: ["stopped", "Out of order"],
  CP_STATUS_BROKEN: ["broken", "Broken"],
  CP_STATUS_DISCONNECTED: ["disconnected", "Disconnected"],
};

// charts.js's charts; if it did not load, none, and the rest of the page
// as before.
const charts = typeof Charts !== "undefined"
  ? Charts
  : { load: async () => console.error("charts.js did not load"), live: () => {}, spark: () => {} };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function fixed(value, digits) {
  return Number(value || 0).toFixed(digits);
}

// Sent with every stop / resume: central refuses them without it, so that
// no other site's page can stop a charger through an operator's browser.
let csrf = "";

// Posts an operator's action; its JSON answer, or null when it failed (and
// then says why on the page).
async function act(action, query) {
  const error = document.getElementById("error");
  try {
    const response = await fetch(`/api/${action}?${query}`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    error.hidden = true;
    return body;
  } catch (e) {
    error.textContent = `${action} failed: ${e.message}`;
    error.hidden = false;
    return null;
  }
}

// An OCPP charger's operation; the charger's answer shown as it gave it.
const OPERATIONS = [
  ["Reset", "Reset", { type: "Soft" }],
  ["Unlock", "UnlockConnector", { connectorId: 1 }],
  ["Status?", "TriggerMessage", { requestedMessage: "StatusNotification" }],
];

async function operate(cpId, action, payload) {
  const query = `cp=${encodeURIComponent(cpId)}&action=${encodeURIComponent(action)}` +
    `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const body = await act("operate", query);
  if (body === null) return;
  const notice = document.getElementById("notice");
  notice.textContent = `${cpId} answered ${action}: ${body.answer}`;
  notice.hidden = false;
}

function renderCps(cps) {
  const tiles = document.getElementById("cps");
  tiles.replaceChildren();
  for (const cp of cps) {
    const [css, label] = LABELS[cp.status] || ["disconnected", "Unknown"];
    const info = cp.info || {};
    const tile = el("div", { class: `tile status-${css}`, "data-cp": info.cpId, "data-status": css },
      el("div", { class: "id" }, info.cpId),
      el("div", { class: "status" }, label),
      el("div", { class: "meta" }, `${info.location || "—"} · ${fixed(info.priceEurPerKwh, 2)} EUR/kWh · ${fixed(info.powerKw, 1)} kW`));
    if (cp.status === "CP_STATUS_SUPPLYING" && cp.supply) {
      tile.append(el("div", { class: "supply" },
        `${cp.supply.driverId}: ${fixed(cp.supply.powerKw, 1)} kW, `,
        el("span", { class: "kwh" }, fixed(cp.supply.energyKwh, 3)), " kWh, ",
        el("span", { class: "eur" }, fixed(cp.supply.amountEur, 2)), " EUR"));
    }
    const supplying = cp.status === "CP_STATUS_SUPPLYING" && cp.supply;
    charts.spark(tile, info.cpId, supplying ? Number(cp.supply.powerKw || 0) : 0);
    const stopped = cp.stoppedByOperator === true;
    const button = el("button", { class: stopped ? "resume" : "stop" }, stopped ? "Resume" : "Stop");
    button.addEventListener("click", () => act(stopped ? "resume" : "stop", `cp=${encodeURIComponent(info.cpId)}`));
    tile.append(button);
    if (info.chargerOperations === true) {
      for (const [label, action, payload] of OPERATIONS) {
        const operation = el("button", { class: "operation", "data-action": action }, label);
        operation.addEventListener("click", () => operate(info.cpId, action, payload));
        tile.append(operation);
      }
    }
    tiles.append(tile);
  }
}

function renderSessions(sessions) {
  const running = document.querySelector("#running tbody");
  const tickets = document.querySelector("#tickets tbody");
  running.replaceChildren();
  tickets.replaceChildren();
  const ended = [];
  for (const s of sessions) {
    if (s.state === "SESSION_STATE_ENDED" && s.ticket) {
      ended.push(s.ticket);
    } else {
      const supply = s.supply || {};
      running.append(el("tr", {}, el("td", {}, s.cpId), el("td", {}, s.driverId),
        el("td", {}, fixed(supply.powerKw, 1)), el("td", {}, fixed(supply.energyKwh, 3)),
        el("td", {}, fixed(supply.amountEur, 2))));
    }
  }
  ended.sort((a, b) => String(b.endedAt).localeCompare(String(a.endedAt)));
  for (const t of ended.slice(0, 10)) {
    const reason = String(t.endReason || "").replace("SESSION_END_REASON_", "").toLowerCase().replace(/_/g, " ");
    tickets.append(el("tr", {}, el("td", {}, t.cpId), el("td", {}, t.driverId),
      el("td", {}, fixed(t.energyKwh, 3)), el("td", {}, fixed(t.amountEur, 2)), el("td", {}, reason)));
  }
}

function renderEvents(events) {
  const list = document.getElementById("events");
  list.replaceChildren();
  for (const e of events.slice().reverse()) {
    list.append(el("li", {}, `${e.at.substring(11, 19)} ${e.text}`));
  }
}

function render(state) {
  if (state.csrf) csrf = state.csrf;
  const cps = (state.cps && state.cps.chargingPoints) || [];
  renderCps(cps);
  charts.live(cps);
  renderSessions((state.sessions && state.sessions.sessions) || []);
  renderEvents(state.events || []);
}

function connect() {
  const connection = document.getElementById("connection");
  // EventSource reconnects by itself when central restarts.
  const source = new EventSource("/api/stream");
  source.onopen = () => { connection.textContent = "live"; connection.className = "connection up"; };
  source.onerror = () => { connection.textContent = "reconnecting…"; connection.className = "connection down"; };
  source.onmessage = (message) => render(JSON.parse(message.data));
}

// ?snapshot draws once and never opens the stream, so that the page settles
// (its network goes idle) for tools that wait for that: a screenshot with
// headless Chromium's --virtual-time-budget, or `tools/ev screenshot`.
const snapshot = new URLSearchParams(location.search).has("snapshot");

// Draws at once from a plain request, then follows the stream; asks for the
// operator's login first when central wants one (401).
async function start() {
  const response = await fetch("/api/state").catch(() => null);
  if (response !== null && response.status === 401) {
    document.getElementById("network").hidden = true;
    document.getElementById("login").hidden = false;
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("network").hidden = false;
  if (response !== null && response.ok) {
    // The stream below draws it too: a first answer that does not parse
    // does not keep the page from it.
    const state = await response.json().catch(() => null);
    if (state !== null) render(state);
  }
  // The books may be slow: the stream does not wait for them, a snapshot does.
  const charted = charts.load();
  if (snapshot) await charted;
  const from = document.querySelector('#history-filter input[name="from"]');
  if (!from.value) from.value = `${new Date().toISOString().slice(0, 7)}-01`;  // this month
  showHistory(false);
  if (snapshot) {
    const connection = document.getElementById("connection");
    connection.textContent = `snapshot ${new Date().toLocaleTimeString()}`;
    connection.className = "connection";
    return;
  }
  connect();
  if (chartsTimer === 0) chartsTimer = setInterval(charts.load, 60000);
}
let chartsTimer = 0;

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  const response = await fetch("/api/login", {
    method: "POST",
    body: new URLSearchParams(new FormData(event.target)),
  }).catch(() => null);
  if (response === null || !response.ok) {
    const body = response === null ? {} : await response.json().catch(() => ({}));
    error.textContent = body.error || "cannot reach central";
    error.hidden = false;
    return;
  }
  error.hidden = true;
  start();
});
// The books: tickets by their end, filtered as the form says; each page
// appended under the last. Whole units from the books, shown exactly.
// `shown` numbers the listings: an answer to an older one is dropped.
const historyView = { query: "", next: "", shown: 0 };

function units(value, digits) {
  const n = BigInt(value || 0);
  const scale = 10n ** BigInt(digits);
  const sign = n < 0n ? "-" : "";
  const magnitude = n < 0n ? -n : n;
  return `${sign}${magnitude / scale}.${String(magnitude % scale).padStart(digits, "0")}`;
}

async function showHistory(more) {
  const error = document.getElementById("error");
  const body = document.querySelector("#history-tickets tbody");
  const moreButton = document.getElementById("history-more");
  if (more && moreButton.disabled) return;  // that page is on its way
  moreButton.disabled = true;
  const shown = more ? historyView.shown : ++historyView.shown;
  if (!more) {
    historyView.query = new URLSearchParams(new FormData(document.getElementById("history-filter")))
      .toString();
    historyView.next = "";
    body.replaceChildren();
    document.getElementById("history-csv").href = `/api/tickets?${historyView.query}&format=csv`;
  }
  const token = historyView.next ? `&page_token=${encodeURIComponent(historyView.next)}` : "";
  const response = await fetch(`/api/tickets?${historyView.query}${token}`).catch(() => null);
  const page = response === null ? {} : await response.json().catch(() => ({}));
  if (shown !== historyView.shown) return;  // a newer listing took its place
  moreButton.disabled = false;
  if (response === null || !response.ok) {
    error.textContent = `history: ${page.error || "cannot reach central"}`;
    error.hidden = false;
    return;
  }
  for (const t of page.tickets || []) {
    body.append(el("tr", { "data-session": t.sessionId },
      el("td", {}, (t.endedAt || "").replace("T", " ").replace(/\.\d+Z$/, "Z")),
      el("td", {}, t.cpId || ""), el("td", {}, t.driverId || ""),
      el("td", {}, units(t.energyWh, 3)), el("td", {}, units(t.amountCents, 2)),
      el("td", {}, (t.endReason || "").replace("SESSION_END_REASON_", ""))));
  }
  historyView.next = page.nextPageToken || "";
  document.getElementById("history-more").hidden = historyView.next === "";
  document.getElementById("history-count").textContent = `${body.children.length} ticket(s)`;
}

document.getElementById("history-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  showHistory(false);
});
document.getElementById("history-more").addEventListener("click", () => showHistory(true));
document.getElementById("stop-all").addEventListener("click", () => act("stop", "all=1"));
document.getElementById("resume-all").addEventListener("click", () => act("resume", "all=1"));
start();
