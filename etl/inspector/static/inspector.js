// etl inspect: polls /api/state and updates the page in place. Data is only ever set as text.
"use strict";

(() => {
  const POLL_MS = Number(document.body.dataset.pollMs) || 1000;
  const byId = (id) => document.getElementById(id);
  let lastChart = null;
  const lastOccupancy = new Map();

  function cell(value, title) {
    const td = document.createElement("td");
    const text = value === null || value === undefined ? "" : String(value);
    td.textContent = text.length > 120 ? `${text.slice(0, 117)}…` : text;
    if (title || text.length > 120) td.title = title || text;
    return td;
  }

  function fill(id, items, columns, empty) {
    const rows = (items || []).map((item) => {
      const tr = document.createElement("tr");
      tr.append(...columns(item).map((value) => cell(value)));
      return tr;
    });
    if (rows.length === 0) {
      const td = cell(empty);
      td.colSpan = 9;
      td.className = "muted";
      rows.push(document.createElement("tr"));
      rows[0].append(td);
    }
    byId(id).replaceChildren(...rows);
  }

  function show(id, text) {
    const node = byId(id);
    node.textContent = text || "";
    node.hidden = !text;
  }

  function attributes(map) {
    return Object.entries(map || {}).map(([key, value]) => `${key}=${value}`).join(" ");
  }

  function backlog(value) {
    return value === null ? "n/a" : value;
  }

  function renderPubsub(section) {
    show("pubsub-error", section.error);
    if (section.error) return;
    show("backlog-note", section.backlog_note);
    fill("topics-body", section.topics, (t) => [t.name, t.subscriptions, backlog(t.backlog)],
      "no topics");
    fill("subscriptions-body", section.subscriptions,
      (s) => [s.name, s.topic, s.push_endpoint ? `push ${s.push_endpoint}` : "pull",
        backlog(s.backlog)],
      "no subscriptions");
  }

  function renderMessages(section) {
    show("messages-error", section.error);
    if (section.error) return;
    show("messages-note", section.note);
    fill("messages-body", section.items,
      (m) => [m.publish_time, m.topic, m.data, attributes(m.attributes), m.deliveries, m.acks],
      section.items ? "no messages yet" : "n/a");
  }

  function renderDeadLetters(section) {
    show("dead_letters-error", section.error);
    if (section.error) return;
    byId("dead-letters-count").textContent = `(${section.items.length})`;
    fill("dead-letters-body", section.items,
      (d) => [d.reason, d.detail, d.data, d.source, d.message_id], "no dead letters");
  }

  function card(item) {
    const div = document.createElement("div");
    div.className = "card";
    div.dataset.service = item.service;
    const name = document.createElement("div");
    name.className = "service";
    name.textContent = item.service;
    const value = document.createElement("div");
    value.className = "value";
    value.textContent = item.occupancy;
    const meta = document.createElement("div");
    meta.className = "muted";
    meta.textContent = `${item.events} events`;
    const more = document.createElement("div");
    more.className = "muted";
    more.textContent = `${item.anomalies} anomalies · ${item.pending} pending`;
    div.append(name, value, meta, more);
    const before = lastOccupancy.get(item.service);
    if (before !== undefined && before !== item.occupancy) div.classList.add("changed");
    lastOccupancy.set(item.service, item.occupancy);
    return div;
  }

  function renderTable(section) {
    show("table-error", section.error);
    if (section.error) return;
    const cards = section.occupancy.map(card);
    if (cards.length === 0) {
      const none = document.createElement("p");
      none.className = "muted";
      none.textContent = "no services yet";
      cards.push(none);
    }
    byId("occupancy-cards").replaceChildren(...cards);
    if (section.chart_svg !== lastChart) {
      byId("chart").innerHTML = section.chart_svg; // server-rendered, every text escaped
      lastChart = section.chart_svg;
    }
    fill("rows-body", section.rows, (r) => [r.key, r.service, r.eventTime, r.event],
      "no event rows yet");
  }

  function render(state) {
    renderPubsub(state.pubsub);
    renderMessages(state.messages);
    renderDeadLetters(state.dead_letters);
    renderTable(state.table);
    byId("updated").textContent = `updated ${state.time}`;
  }

  async function poll() {
    const started = Date.now();
    try {
      const response = await fetch("api/state", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      show("connection", null);
    } catch (err) {
      show("connection", `inspector not answering: ${err.message}`);
    }
    setTimeout(poll, Math.max(200, POLL_MS - (Date.now() - started)));
  }

  poll();
})();
