// The dashboard's pages: read each page's JSON endpoint and draw it. Every member-supplied
// string goes through textContent (never innerHTML), so names cannot inject markup.
"use strict";

(function () {
  const body = document.body;
  const guild = body.dataset.guild;
  const page = body.dataset.page;
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue("--" + name).trim();
  const fmt = new Intl.NumberFormat("en-US");
  const MAX_ROWS = 1000;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function periodValue() {
    const select = document.getElementById("period");
    return select ? select.value : "30d";
  }

  async function load(path) {
    const params = new URLSearchParams({ period: periodValue() });
    const channel = document.getElementById("channel");
    if (channel && channel.value) params.set("channel", channel.value);
    const status = document.getElementById("status");
    if (status) status.textContent = "loading…";
    const response = await fetch(`/g/${guild}/api/${path}?${params}`, { credentials: "same-origin" });
    if (!response.ok) {
      if (status) status.textContent = "could not load this page's figures (" + response.status + ")";
      throw new Error("HTTP " + response.status);
    }
    const data = await response.json();
    if (status) status.textContent = "";
    body.dataset.loaded = String(Number(body.dataset.loaded || "0") + 1);
    return data;
  }

  function layout(extra) {
    return Object.assign(
      {
        paper_bgcolor: colour("surface"),
        plot_bgcolor: colour("surface"),
        font: { color: colour("text"), family: "DejaVu Sans, Verdana, sans-serif" },
        margin: { l: 50, r: 20, t: 10, b: 40 },
        xaxis: { gridcolor: colour("grid") },
        yaxis: { gridcolor: colour("grid"), rangemode: "tozero" },
        legend: { orientation: "h" },
        hovermode: "x unified",
      },
      extra || {}
    );
  }

  function plot(id, traces, extra) {
    const node = document.getElementById(id);
    if (!node || !window.Plotly) return;
    window.Plotly.react(node, traces, layout(extra), { displaylogo: false, responsive: true });
  }

  function heatmap(id, matrix) {
    const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0") + ":00");
    plot(
      id,
      [{
        type: "heatmap", z: matrix, x: hours, y: days,
        colorscale: [[0, colour("heat-low")], [1, colour("heat-high")]],
        hovertemplate: "%{y} %{x}: %{z}<extra></extra>",
      }],
      { hovermode: "closest", yaxis: { autorange: "reversed" } }
    );
  }

  function change(now, before) {
    if (before === null || before === undefined) return null;
    if (before === 0) return now === 0 ? "±0%" : "new";
    const pct = Math.round(((now - before) / before) * 100);
    return (pct > 0 ? "+" : pct < 0 ? "−" : "±") + Math.abs(pct) + "%";
  }

  function figures(items) {
    const box = document.getElementById("figures");
    box.replaceChildren();
    for (const [label, value, delta, key] of items) {
      const card = el("div", null, "figure");
      card.dataset.metric = key;
      card.append(el("div", label, "label"), el("div", typeof value === "number" ? fmt.format(value) : value, "value"));
      if (delta) card.append(el("div", delta + " vs previous period", "delta"));
      box.append(card);
    }
  }

  function ranked(id, rows, link) {
    const tbody = document.querySelector(`#${id} tbody`);
    tbody.replaceChildren();
    rows.forEach((row, i) => {
      const tr = el("tr");
      const name = el("td");
      if (link) {
        const a = el("a", row.name);
        a.href = `/g/${guild}/members/${row.id}`;
        name.append(a);
      } else {
        name.textContent = row.name;
      }
      tr.append(el("td", i + 1 + "."), name, el("td", fmt.format(row.value), "num"));
      tbody.append(tr);
    });
    if (!rows.length) tbody.append(el("tr")).append(el("td", "nothing in this period", "muted"));
  }

  async function overview() {
    const d = await load("overview");
    const t = d.totals;
    const p = d.previous || {};
    figures([
      ["Messages", t.messages, change(t.messages, p.messages), "messages"],
      ["Voice minutes", t.voice_minutes, change(t.voice_minutes, p.voice_minutes), "voice_minutes"],
      ["Active members", t.active_members, change(t.active_members, p.active_members), "active_members"],
      ["Joins", t.joins, null, "joins"],
      ["Leaves", t.leaves, null, "leaves"],
    ]);
    plot("chart-activity", [
      { type: "bar", name: "Messages", x: d.series.x, y: d.series.messages, marker: { color: colour("messages") } },
      { type: "scatter", mode: "lines", name: "Voice minutes", x: d.series.x, y: d.series.voice_minutes, yaxis: "y2", line: { color: colour("voice"), width: 2, shape: "hvh" } },
    ], { yaxis2: { overlaying: "y", side: "right", gridcolor: colour("grid"), rangemode: "tozero" } });
    plot("chart-growth", [
      { type: "bar", name: "Joins", x: d.growth.x, y: d.growth.joins, marker: { color: colour("good") } },
      { type: "bar", name: "Leaves", x: d.growth.x, y: d.growth.leaves.map((v) => -v), customdata: d.growth.leaves, hovertemplate: "%{customdata}", marker: { color: colour("bad") } },
    ], { barmode: "relative" });
    heatmap("chart-heatmap", d.heatmap);
    ranked("top-members", d.top_members, body.dataset.mentor === "1");
    ranked("top-channels", d.top_channels, false);
  }

  function sortable(table, rows, draw) {
    let key = null;
    let dir = -1;
    table.querySelectorAll("th[data-key]").forEach((th) => {
      th.addEventListener("click", () => {
        dir = key === th.dataset.key ? -dir : th.dataset.key === "name" ? 1 : -1;
        key = th.dataset.key;
        rows.sort((a, b) => {
          const x = a[key], y = b[key];
          if (x === y) return 0;
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          return (typeof x === "string" ? x.localeCompare(y) : x - y) * dir;
        });
        draw();
      });
    });
  }

  async function members() {
    const d = await load("members");
    const table = document.getElementById("members");
    const search = document.getElementById("search");
    const keys = Array.from(table.querySelectorAll("th[data-key]")).map((th) => th.dataset.key);
    // The table comes as one array per column (a large guild's table is long): one object per member here.
    const rows = d.columns.id.map((_, i) => Object.fromEntries(d.keys.map((k) => [k, d.columns[k][i]])));
    function draw() {
      const q = search.value.trim().toLowerCase();
      const tbody = table.querySelector("tbody");
      tbody.replaceChildren();
      let drawn = 0;
      let matching = 0;
      for (const row of rows) {
        if (q && !row.name.toLowerCase().includes(q)) continue;
        matching += 1;
        if (drawn >= MAX_ROWS) continue; // a browser table of tens of thousands of rows is unusable
        drawn += 1;
        const tr = el("tr");
        tr.dataset.id = row.id;
        for (const key of keys) {
          if (key === "name") {
            const td = el("td");
            const a = el("a", row.name);
            a.href = `/g/${guild}/members/${row.id}`;
            td.append(a);
            tr.append(td);
          } else {
            const v = row[key];
            tr.append(el("td", typeof v === "number" ? fmt.format(v) : v ?? "—", typeof v === "number" ? "num" : key === "risk" ? "risk " + v : ""));
          }
        }
        tbody.append(tr);
      }
      const more = document.getElementById("more");
      more.hidden = matching <= drawn;
      more.textContent = `Showing ${fmt.format(drawn)} of ${fmt.format(matching)} members: search or sort to see others.`;
    }
    search.oninput = draw;
    sortable(table, rows, draw);
    draw();
  }

  async function member() {
    const d = await load("members/" + body.dataset.user);
    document.getElementById("risk-reason").textContent = "Risk " + d.figures.Risk + ": " + d.risk_reason;
    figures(Object.entries(d.figures).map(([k, v]) => [k, v, null, k]));
    plot("chart-daily", [
      { type: "bar", name: "Activity", x: d.daily.x, y: d.daily.activity, marker: { color: colour("accent") } },
    ]);
    heatmap("chart-heatmap", d.heatmap);
  }

  async function watchlist() {
    const d = await load("watchlist");
    const tbody = document.querySelector("#watchlist tbody");
    tbody.replaceChildren();
    for (const row of d.members) {
      const tr = el("tr");
      tr.dataset.id = row.id;
      const td = el("td");
      const a = el("a", row.name);
      a.href = `/g/${guild}/members/${row.id}`;
      td.append(a);
      tr.append(td, el("td", row.risk, "risk " + row.risk), el("td", row.reason));
      tbody.append(tr);
    }
    document.getElementById("empty").hidden = d.members.length > 0;
  }

  async function invites() {
    const d = await load("invites");
    figures([
      ["Joins by invite", d.inviters.reduce((s, r) => s + r.joins, 0), null, "joins"],
      ["Vanity joins", d.vanity_joins, null, "vanity_joins"],
      ["Unknown joins", d.unknown_joins, null, "unknown_joins"],
    ]);
    const table = document.getElementById("inviters");
    const keys = Array.from(table.querySelectorAll("th[data-key]")).map((th) => th.dataset.key);
    const rows = d.inviters;
    function draw() {
      const tbody = table.querySelector("tbody");
      tbody.replaceChildren();
      for (const row of rows) {
        const tr = el("tr");
        tr.dataset.id = row.id;
        for (const key of keys) {
          const v = row[key];
          tr.append(el("td", typeof v === "number" ? fmt.format(v) : v ?? "—", key === "name" ? "" : "num"));
        }
        tbody.append(tr);
      }
    }
    sortable(table, rows, draw);
    draw();
  }

  function localTime(iso) {
    // The guild's local time as the server wrote it (ISO with offset): "2026-11-16 13:00".
    return iso.slice(0, 16).replace("T", " ");
  }

  async function occurrenceGrid(row, tr) {
    document.querySelectorAll("#occurrences tbody tr.on").forEach((n) => n.classList.remove("on"));
    tr.classList.add("on");
    const response = await fetch(`/g/${guild}/api/events/occurrence?key=${encodeURIComponent(row.key)}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const d = await response.json();
    document.getElementById("grid-card").hidden = false;
    document.getElementById("grid-title").textContent = `${d.event} · ${localTime(d.start)} · minute by minute`;
    document.getElementById("grid-channels").textContent = d.channels.length ? "Channels: " + d.channels.join(", ") : "";
    const grid = document.getElementById("minute-grid");
    grid.replaceChildren();
    for (const a of d.attendees) {
      const marks = el("div", null, "marks");
      for (let i = 0; i < a.present.length; i++) {
        const mark = el("span", null, a.present[i] === "1" ? "on" : "");
        mark.title = "minute " + (i + 1);
        marks.append(mark);
      }
      const name = el("div", a.name, "name");
      name.dataset.id = a.id;
      grid.append(name, el("div", a.minutes + " min", "num"), marks);
    }
    grid.dataset.rows = String(d.attendees.length);
    grid.dataset.key = d.key;
    body.dataset.grid = String(Number(body.dataset.grid || "0") + 1);
  }

  async function events() {
    const d = await load("events");
    figures([
      ["Events held", d.events_held, null, "events_held"],
      ["Member-minutes", d.member_minutes, null, "member_minutes"],
      ["Members present", d.members_present, null, "members_present"],
      ["Never present", d.never_present_count === null ? "—" : d.never_present_count, null, "never_present"],
    ]);
    plot("chart-attendance", [
      { type: "bar", name: "Event minutes", x: d.attendance.x, y: d.attendance.event_minutes, marker: { color: colour("voice") } },
      { type: "scatter", mode: "lines+markers", name: "Members present", x: d.attendance.x, y: d.attendance.members_present, yaxis: "y2", line: { color: colour("accent"), width: 2 } },
    ], { xaxis: { type: "category", gridcolor: colour("grid") }, yaxis2: { overlaying: "y", side: "right", showgrid: false, rangemode: "tozero", tickformat: ",d" } });
    const mentor = body.dataset.mentor === "1";
    const tbody = document.querySelector("#occurrences tbody");
    tbody.replaceChildren();
    document.getElementById("grid-card").hidden = true;
    d.occurrences.forEach((row, i) => {
      const tr = el("tr", null, mentor ? "pick" : "");
      tr.dataset.key = row.key;
      tr.append(
        el("td", localTime(row.start)), el("td", row.event), el("td", fmt.format(row.minutes), "num"),
        el("td", fmt.format(row.members_present), "num"), el("td", fmt.format(row.member_minutes), "num"),
      );
      if (mentor) {
        tr.addEventListener("click", () => occurrenceGrid(row, tr).catch((err) => console.warn("dashboard:", err.message)));
      }
      tbody.append(tr);
      if (mentor && i === 0) occurrenceGrid(row, tr).catch((err) => console.warn("dashboard:", err.message));
    });
    document.getElementById("no-occurrences").hidden = d.occurrences.length > 0;
    const never = document.getElementById("never-present");
    if (d.never_present === null && d.never_present_count === null) never.textContent = "No event took place in this period.";
    else if (!d.names_shown) never.textContent = `${d.never_present_count} members (names are shown to mentors).`;
    else never.textContent = d.never_present.length ? d.never_present.join(", ") : "Everyone attended at least one event.";
    const weeks = document.querySelector("#weeks tbody");
    weeks.replaceChildren();
    for (const w of d.weeks) {
      const tr = el("tr");
      tr.dataset.week = w.week;
      const cell = (now, before) => {
        const td = el("td", fmt.format(now), "num");
        const delta = change(now, before);
        if (delta) td.title = delta + " vs the week before";
        return td;
      };
      let absent;
      if (!w.events_held) absent = el("td", "no event took place", "week-never");
      else if (!d.names_shown) absent = el("td", String(w.never_present_count), "week-never");
      else absent = el("td", w.never_present.length ? w.never_present.join(", ") : "everyone attended", "week-never");
      tr.append(
        el("td", w.week), cell(w.totals.messages, w.previous.messages), cell(w.totals.voice_minutes, w.previous.voice_minutes),
        cell(w.totals.active_members, w.previous.active_members), el("td", fmt.format(w.events_held), "num"),
        el("td", fmt.format(w.event_minutes), "num"), el("td", fmt.format(w.members_present), "num"), absent,
      );
      weeks.append(tr);
    }
  }

  function exportsPage() {
    const select = document.getElementById("period");
    const update = () => {
      document.querySelectorAll("a.export").forEach((a) => {
        a.href = `/g/${guild}/exports/${a.dataset.dataset}.csv?period=${encodeURIComponent(select.value)}`;
      });
    };
    select.addEventListener("change", update);
    update();
  }

  const pages = { overview, members, member, watchlist, invites, events };
  const run = pages[page];
  if (page === "exports") exportsPage();
  if (run) {
    const reload = () => run().catch((err) => console.warn("dashboard:", err.message));
    for (const id of ["period", "channel"]) {
      const select = document.getElementById(id);
      if (select) select.addEventListener("change", reload);
    }
    reload();
  }
})();
