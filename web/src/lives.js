// Panels of clusters with a life (docs/analytics.md), each drawn from one API answer (docs/api.md): a cluster's
// lineage (sizes over its windows, merges, splits, members joining and leaving), its brokers in a window, a
// login's people to meet and developing influence, and the growing clusters with bridge suggestions.
// Pure DOM builders: they fetch nothing and keep no state; main.js decides when to ask the API.

import { clusterColor } from "./graphview.js";

const SVG = "http://www.w3.org/2000/svg";
const EVENT_COLOR = { born: "#06d6a0", merged: "#ffd166", split: "#ef476f", ended: "#8b93a7" };

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
};

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const hhmm = (iso) => iso.slice(11, 16);
const fmt = (x, digits = 2) => (x == null ? "–" : Number(x).toFixed(digits));

/** A button naming cluster `id` in its colour; clicking calls `onCluster(id)`. */
export function clusterChip(id, onCluster, text = `#${id}`) {
  const b = el("button", { type: "button", className: "chip cid", title: `cluster #${id}: its life` });
  b.style.setProperty("--c", clusterColor(id));
  b.dataset.clusterId = id;
  b.append(el("span", { className: "dot" }), text);
  b.addEventListener("click", () => onCluster(id));
  return b;
}

function loginButton(login, onLogin) {
  const b = el("button", { type: "button", className: "member", textContent: login });
  b.addEventListener("click", () => onLogin(login));
  return b;
}

/**
 * The life of a cluster (`ClusterLife`): one bar per window, its height the size, a dot on each window with a
 * lineage event; below, the events in words with the clusters merged in and split off as chips.
 */
export function lineageView(life, { shownWindowId, onCluster, onWindow }) {
  const id = life.cluster_id;
  const wins = life.windows;
  const wrap = el("div", { className: "lineage" });
  wrap.dataset.clusterId = id;
  wrap.dataset.windows = wins.length;
  const first = wins[0];
  const last = wins[wins.length - 1];
  const end = life.ended;
  const fate = end ? (end.into.length ? `ended ${hhmm(end.start)} into` : `died ${hhmm(end.start)}`) : "alive";
  const head = el("p", { className: "muted" }, `${wins.length} windows · ${hhmm(first.start)}–${hhmm(last.end)} · ${fate} `);
  if (end) for (const into of end.into) head.append(clusterChip(into, onCluster));
  wrap.append(head);

  const W = 320;
  const H = 84;
  const top = 14;
  const n = wins.length;
  const step = W / n;
  const maxSize = Math.max(...wins.map((w) => w.size));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "lineage-chart", role: "img" });
  chart.append(svg("title"));
  chart.firstChild.textContent = `Size of #${id} per window, ${first.size} to ${last.size} members (max ${maxSize})`;
  wins.forEach((w, i) => {
    const h = Math.max(2, ((H - top - 2) * w.size) / maxSize);
    const bar = svg("rect", {
      x: i * step + step * 0.1, y: H - h, width: Math.max(1, step * 0.8), height: h, rx: 1,
      fill: clusterColor(id), class: w.window_id === shownWindowId ? "bar current" : "bar",
      "data-window-id": w.window_id, "data-size": w.size, "data-event": w.event,
    });
    const tip = svg("title");
    tip.textContent = `${hhmm(w.start)} · window #${w.window_id} · ${w.size} members · ${w.event}`;
    bar.append(tip);
    bar.addEventListener("click", () => onWindow(w.window_id));
    chart.append(bar);
    if (EVENT_COLOR[w.event]) {
      chart.append(svg("circle", { cx: i * step + step / 2, cy: 6, r: Math.min(4, Math.max(2, step / 2)),
        fill: EVENT_COLOR[w.event], "data-event": w.event }));
    }
  });
  wrap.append(chart);

  const events = el("ol", { className: "events" });
  let before = null;
  for (const w of wins) {
    const change = before != null && w.size !== before;
    before = w.size;
    if (w.event === "steady" || ((w.event === "grew" || w.event === "shrank") && !w.joined.length && !w.left.length)) {
      if (!change) continue;
    }
    const li = el("li", {});
    li.dataset.event = w.event;
    li.dataset.windowId = w.window_id;
    const when = el("button", { type: "button", className: "hid", textContent: hhmm(w.start) });
    when.title = `show window #${w.window_id}`;
    when.addEventListener("click", () => onWindow(w.window_id));
    li.append(when, el("b", { className: `ev ev-${w.event}`, textContent: w.event }), ` ${w.size} members`);
    const others = w.parents.filter((p) => p !== id);
    if (w.event === "merged" && others.length) {
      li.append(" with ");
      for (const p of others) li.append(clusterChip(p, onCluster));
    }
    if (w.split_off.length) {
      li.append(" split off ");
      for (const c of w.split_off) li.append(clusterChip(c, onCluster));
    }
    const moves = [];
    if (w.joined.length) moves.push(`+${w.joined.slice(0, 4).join(", ")}${w.joined.length > 4 ? ` +${w.joined.length - 4}` : ""}`);
    if (w.left.length) moves.push(`−${w.left.slice(0, 4).join(", ")}${w.left.length > 4 ? ` +${w.left.length - 4}` : ""}`);
    if (moves.length) li.append(el("span", { className: "muted moves", textContent: ` ${moves.join(" ")}` }));
    events.append(li);
  }
  if (end) {
    const li = el("li", {}, el("span", { className: "hid", textContent: hhmm(end.start) }),
      el("b", { className: "ev ev-ended", textContent: end.into.length ? "ended" : "died" }));
    li.dataset.event = "ended";
    li.dataset.windowId = end.window_id;
    if (end.into.length) {
      li.append(" into ");
      for (const c of end.into) li.append(clusterChip(c, onCluster));
    }
    events.append(li);
  }
  wrap.append(events);
  return wrap;
}

/** Who holds a cluster together in a window (`ClusterBrokers`): the top brokers and the bridges. */
export function brokersView(b, { onLogin, top = 8 }) {
  const wrap = el("div", { className: "brokers" });
  wrap.dataset.windowId = b.window.id;
  wrap.dataset.rank = b.rank;
  if (b.pairs == null) {
    wrap.append(el("p", { className: "muted", textContent: "This window was stored without its pairs: no brokers." }));
    return wrap;
  }
  const tree = b.pairs === b.size - 1 ? " (a tree: every inner member is a cut)" : "";
  wrap.append(el("p", {
    className: "muted",
    textContent: `${b.size} members · ${b.pairs} interacting pairs${tree} · ${b.articulation_points.length} ` +
      `articulation points · ${b.bridges.length} bridges`,
  }));
  const table = el("table", { className: "brokers-table" });
  table.append(el("thead", {}, el("tr", {},
    el("th", { textContent: "login" }), el("th", { textContent: "degree" }),
    el("th", { textContent: "betweenness" }), el("th", { textContent: "cut", title: "articulation point" }))));
  const body = el("tbody");
  for (const m of b.members.slice(0, top)) {
    const tr = el("tr", {},
      el("td", {}, loginButton(m.login, onLogin)),
      el("td", { textContent: m.degree }),
      el("td", { textContent: fmt(m.betweenness) }),
      el("td", { textContent: m.articulation ? "★" : "" }));
    tr.dataset.login = m.login;
    tr.dataset.articulation = m.articulation;
    body.append(tr);
  }
  table.append(body);
  wrap.append(table);
  if (b.bridges.length) {
    const shown = b.bridges.slice(0, 5).map(([x, y]) => `${x} – ${y}`).join(", ");
    wrap.append(el("p", { className: "muted small", textContent: `bridges: ${shown}${b.bridges.length > 5 ? "…" : ""}` }));
  }
  return wrap;
}

/** People to meet for a login (`Recommendations`). */
export function peopleView(rec, { onLogin }) {
  const list = el("ol", { className: "people" });
  if (!rec.recommendations.length) {
    list.append(el("li", { className: "muted", textContent: "No suggestion: not in a stored cluster lately." }));
    return list;
  }
  for (const r of rec.recommendations) {
    const li = el("li", {}, loginButton(r.login, onLogin),
      el("span", { className: "muted", textContent: r.via.length
        ? ` score ${fmt(r.score)} · via ${r.via.slice(0, 3).join(", ")}${r.via.length > 3 ? "…" : ""}`
        : " active nearby" }));
    li.dataset.login = r.login;
    list.append(li);
  }
  return list;
}

/** A login's developing influence (`LoginInfluence`), oldest to newest: degree per window as a sparkline. */
export function influenceView(influence, { onCluster }) {
  const rows = influence.influence.slice().reverse();
  const wrap = el("div", { className: "influence" });
  wrap.dataset.windows = rows.length;
  if (!rows.length) return wrap;
  wrap.dataset.newest = rows[rows.length - 1].window_id;
  const W = 320;
  const H = 40;
  const maxDeg = Math.max(1, ...rows.map((r) => r.degree ?? 0));
  const pts = rows.map((r, i) => `${(i * W) / Math.max(1, rows.length - 1)},${H - 4 - ((H - 8) * (r.degree ?? 0)) / maxDeg}`);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "influence-chart", role: "img" });
  chart.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: "#4cc9f0", "stroke-width": 2 }));
  wrap.append(chart);
  const last = rows[rows.length - 1];
  const p = el("p", { className: "muted small" },
    `degree ${rows[0].degree ?? "–"} → ${last.degree ?? "–"}, betweenness ${fmt(last.betweenness)}` +
      `${last.articulation ? ", holds its cluster together ★" : ""} · in `);
  if (last.cluster_id != null) p.append(clusterChip(last.cluster_id, onCluster));
  wrap.append(p);
  return wrap;
}

/** Growing clusters of a window (`GrowingClusters`) and bridge suggestions between them (`BridgeSuggestions`). */
export function momentumView(growing, bridges, { onCluster, onLogin }) {
  const wrap = el("div", { className: "momentum-body" });
  const list = el("ol", { className: "growing" });
  list.dataset.testid = "growing";
  list.dataset.windowId = growing.window.id;
  if (!growing.clusters.length) list.append(el("li", { className: "muted", textContent: "No growing cluster in this window." }));
  for (const c of growing.clusters) {
    const li = el("li", {}, clusterChip(c.cluster_id, onCluster),
      el("span", { className: "muted", textContent: ` ${c.size} members · ${c.event} · activity ${c.activity}, ` +
        `${c.slope >= 0 ? "+" : ""}${fmt(c.slope, 1)}/window` }));
    li.dataset.clusterId = c.cluster_id;
    list.append(li);
  }
  wrap.append(list);
  const sug = el("ol", { className: "bridges" });
  sug.dataset.testid = "bridge-suggestions";
  for (const s of bridges.suggestions) {
    for (const p of s.pairs) {
      const li = el("li", {}, clusterChip(s.clusters[0], onCluster), loginButton(p.a, onLogin), " ↔ ",
        loginButton(p.b, onLogin), clusterChip(s.clusters[1], onCluster),
        el("span", { className: "muted", textContent: ` ${fmt(p.score, 3)}${p.score >= 1 ? " (met recently)" : ""}` }));
      li.dataset.pair = `${p.a} ${p.b}`;
      sug.append(li);
    }
  }
  if (bridges.suggestions.length) wrap.append(el("h3", { textContent: "Who could bridge them" }), sug);
  return wrap;
}
