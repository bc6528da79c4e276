// etl inspect: polls /api/state and updates the page in place. Data is only ever set as text;
// charts are SVG the server rendered with every text escaped.
"use strict";

(() => {
  const POLL_MS = Number(document.body.dataset.pollMs) || 1000;
  const MAX_TEXT = 80;
  const byId = (id) => document.getElementById(id);
  const lastSvg = new Map();
  const lastOccupancy = new Map();

  // A server-rendered chart into a node, replaced only when it changed.
  function chart(id, svg) {
    if (lastSvg.get(id) === svg) return;
    byId(id).innerHTML = svg; // server-rendered, every text escaped
    lastSvg.set(id, svg);
  }

  // A value, or { text, title } for a cell with a tooltip.
  function cell(value, className) {
    const td = document.createElement("td");
    const raw = value !== null && typeof value === "object" ? value : { text: value };
    const text = raw.text === null || raw.text === undefined ? "" : String(raw.text);
    td.textContent = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
    if (raw.title || text.length > MAX_TEXT) td.title = raw.title || text;
    if (className) td.className = className;
    return td;
  }

  function row(values, classes, rowClass) {
    const tr = document.createElement("tr");
    tr.append(...values.map((value, i) => cell(value, classes[i])));
    if (rowClass) tr.className = rowClass;
    return tr;
  }

  // Fill a table body: one row per item, `columns(item)` its cells; `wrap` lists text columns.
  function fill(id, items, columns, empty, wrap = []) {
    const classes = [];
    for (const i of wrap) classes[i] = "text";
    const rows = (items || []).map((item) => row(columns(item), classes));
    if (rows.length === 0) rows.push(emptyRow(empty));
    byId(id).replaceChildren(...rows);
  }

  function emptyRow(text) {
    const td = cell(text, "muted");
    td.colSpan = 9;
    const tr = document.createElement("tr");
    tr.append(td);
    return tr;
  }

  function show(id, text) {
    const node = byId(id);
    node.textContent = text || "";
    node.hidden = !text;
  }

  // A message's data, its attributes in the tooltip.
  function withAttributes(message) {
    const attributes = Object.entries(message.attributes || {}).map(([k, v]) => `${k}=${v}`);
    return { text: message.data, title: [message.data, ...attributes].join("\n") };
  }

  function backlog(value) {
    return value === null ? "n/a" : value;
  }

  function delivery(subscription) {
    const push = subscription.push_endpoint;
    return push ? { text: "push", title: push } : "pull";
  }

  // Each topic, then its subscriptions; subscriptions of topics not listed come last.
  function renderPubsub(section) {
    show("pubsub-error", section.error);
    if (section.error) return;
    show("backlog-note", section.backlog_note);
    const rows = [];
    const listed = new Set(section.topics.map((t) => t.name));
    const subscriptionRow = (s) =>
      row([s.name, delivery(s), backlog(s.backlog)], [], "subscription");
    for (const topic of section.topics) {
      const count = `${topic.subscriptions} subscription${topic.subscriptions === 1 ? "" : "s"}`;
      rows.push(row([topic.name, count, backlog(topic.backlog)], [], "topic"));
      rows.push(...section.subscriptions.filter((s) => s.topic === topic.name).map(subscriptionRow));
    }
    const others = section.subscriptions.filter((s) => !listed.has(s.topic));
    if (others.length) rows.push(row(["other topics", "", ""], [], "topic"));
    rows.push(...others.map(subscriptionRow));
    if (rows.length === 0) rows.push(emptyRow("no topics"));
    byId("pubsub-body").replaceChildren(...rows);
  }

  function renderMessages(section) {
    show("messages-error", section.error);
    if (section.error) return;
    show("messages-note", section.note);
    fill("messages-body", section.items,
      (m) => [m.publish_time, m.topic, withAttributes(m), m.deliveries, m.acks],
      section.items ? "no messages yet" : "n/a");
  }

  function renderDeadLetters(section) {
    show("dead_letters-error", section.error);
    if (section.error) return;
    byId("dead-letters-count").textContent = `(${section.items.length})`;
    fill("dead-letters-body", section.items,
      (d) => [d.reason, d.detail, d.data, d.source, d.message_id], "no dead letters", [1, 2]);
    chart("reasons-chart", section.reasons_svg);
  }

  function rate(value) {
    if (value === null) return "–";
    return String(value >= 10 ? Math.round(value) : Number(value.toPrecision(2)));
  }

  // A table cell holding a sparkline and the latest number beside it.
  function sparkCell(svg, text) {
    const td = document.createElement("td");
    td.className = "spark";
    td.innerHTML = svg; // server-rendered, every text escaped
    const number = document.createElement("span");
    number.textContent = text;
    td.append(number);
    return td;
  }

  function renderActivity(section) {
    show("activity-error", section.error);
    if (section.error) return;
    show("activity-note", section.note);
    const minutes = section.window_s ? Math.round(section.window_s / 60) : null;
    byId("activity-window").textContent = minutes ? `(last ${minutes} minutes)` : "";
    const rows = (section.subscriptions || []).map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.subscription = s.name;
      tr.append(cell(s.name),
        sparkCell(s.backlog_svg, s.backlog === null ? "" : String(s.backlog)),
        sparkCell(s.rate_svg, `${rate(s.in_rate)} · ${rate(s.out_rate)}`));
      return tr;
    });
    if (rows.length === 0) {
      rows.push(emptyRow(section.subscriptions ? "no subscriptions sampled yet" : "n/a"));
    }
    byId("activity-body").replaceChildren(...rows);
  }

  function counts(fired) {
    return Object.entries(fired || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
  }

  function renderFaults(section) {
    show("faults-error", section.error);
    if (section.error) return;
    show("faults-note", section.note);
    fill("faults-body", section.items,
      (f) => [f.subscription, f.active ? f.settings.join(" · ") : { text: "off", title: "cleared" },
        counts(f.fired), f.held],
      section.items ? "no faults set" : "n/a", [1, 2]);
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
    more.textContent = `${item.anomalies} anomalies · ${item.events} events`;
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
    chart("occupancy-chart", section.occupancy_svg);
    chart("chart", section.chart_svg);
    fill("rows-body", section.rows, (r) => [r.key, r.service, r.eventTime, r.event],
      "no event rows yet");
    fill("daily-peaks-body", section.daily_peaks, (p) => [p.service, p.day, p.value, p.at],
      "no daily peaks stored (the fan-out's daily_peak stores them)");
  }

  function render(state) {
    renderPubsub(state.pubsub);
    renderMessages(state.messages);
    renderDeadLetters(state.dead_letters);
    renderTable(state.table);
    renderActivity(state.activity);
    renderFaults(state.faults);
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
