// networkpulse UI: wires the live feed and REST history (docs/api.md) to the graph, charts, search and scrubber.
//
// Data flow: every window summary (REST history + live frames) goes into `windows` (ordered by id) which feeds the
// charts and the scrubber; the graph shows one WindowDetail at a time — the newest while live, or the one picked
// while paused. Live frames can arrive far faster than a graph can be laid out, so graph updates are throttled to
// the newest pending frame, while every window still lands in the charts.

import "./styles.css";
import { api, ApiError, LiveFeed } from "./api.js";
import { GraphView, clusterColor, clusterLabel } from "./graphview.js";
import { DistributionChart, TimeCharts } from "./charts.js";
import { brokersView, influenceView, lineageView, momentumView, peopleView } from "./lives.js";

const MAX_CLUSTERS = 40; // clusters drawn per window
const HISTORY_LIMIT = 1000; // summaries fetched on load
const MAX_WINDOWS = 20000; // summaries kept in memory (oldest dropped)
const GRAPH_MIN_INTERVAL_MS = 600;
const CHART_MIN_INTERVAL_MS = 250;
const LIFE_REFRESH_MS = 3000; // a live cluster's life grows; refetch it at most this often
const MOMENTUM_MIN_INTERVAL_MS = 2000;

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
};

const state = {
  connection: "connecting", // connecting | live | reconnecting
  paused: false,
  windows: [], // WindowSummary, ascending id
  byId: new Map(),
  shown: null, // WindowDetail drawn in the graph
  newest: null, // newest WindowDetail received live
  pending: null,
  lastGraphAt: 0,
  frames: 0,
  dropped: 0,
  searchLogin: null,
  fetchToken: 0,
  cluster: null, // the selected cluster: {id, life, lifeAt, brokersKey, token}
  momentumId: null,
  momentumAt: 0,
  momentumTimer: null,
};

const graph = new GraphView($("graph"), { onSelect: renderInfo });
const charts = new TimeCharts($("charts"), { onPick: (id) => viewWindow(id) });
const dist = new DistributionChart($("chart-distribution"));

// ---------- window summaries ----------

function summaryOf(w) {
  const { cluster_list: _omit, ...s } = w;
  return s;
}

function addSummaries(list) {
  let outOfOrder = false;
  for (const s of list) {
    if (state.byId.has(s.id)) continue;
    state.byId.set(s.id, s);
    const last = state.windows[state.windows.length - 1];
    if (last && s.id < last.id) outOfOrder = true;
    state.windows.push(s);
  }
  if (outOfOrder) state.windows.sort((a, b) => a.id - b.id);
  if (state.windows.length > MAX_WINDOWS) {
    for (const s of state.windows.splice(0, state.windows.length - MAX_WINDOWS)) state.byId.delete(s.id);
  }
  scheduleCharts();
  syncScrubber();
}

// ---------- charts ----------

let chartTimer = null;
let lastChartAt = 0;
function scheduleCharts() {
  if (chartTimer) return;
  const wait = Math.max(0, lastChartAt + CHART_MIN_INTERVAL_MS - performance.now());
  chartTimer = setTimeout(() => {
    chartTimer = null;
    lastChartAt = performance.now();
    charts.setData(state.windows);
    charts.setMarker(state.shown?.id ?? null);
    const pts = charts.points();
    for (const k of Object.keys(pts)) $(`pts-${k}`).textContent = `${pts[k]} windows`;
  }, wait);
}

new ResizeObserver(() => {
  charts.resize();
  dist.resize();
}).observe($("charts"));

// ---------- graph ----------

function showLive(detail) {
  state.pending = detail;
  if (state.graphTimer) return;
  const wait = Math.max(0, state.lastGraphAt + GRAPH_MIN_INTERVAL_MS - performance.now());
  state.graphTimer = setTimeout(() => {
    state.graphTimer = null;
    const d = state.pending;
    state.pending = null;
    if (d && !state.paused) render(d);
  }, wait);
}

function render(detail) {
  state.lastGraphAt = performance.now();
  state.shown = detail;
  state.frames++;
  graph.update(detail);
  dist.setWindow(detail);
  const nClusters = detail.cluster_list?.length ?? 0;
  $("dist-note").textContent =
    nClusters < detail.clusters ? `top ${nClusters} of ${detail.clusters}` : `${nClusters} clusters`;
  $("node-count").textContent = graph.graph.order;
  $("edge-count").textContent = graph.graph.size;
  $("cluster-count").textContent = nClusters;
  $("graph-empty").hidden = graph.graph.order > 0;
  renderWindowBar(detail);
  renderStats(detail);
  renderLegend();
  renderDatalist();
  refreshCluster();
  scheduleMomentum();
  charts.setMarker(detail.id);
  syncScrubber();
  if (state.searchLogin) renderSearchStatus();
}

function fmtTime(iso) {
  return iso.replace("T", " ").replace("Z", "");
}

function fmtBounds(s) {
  const [d1, t1] = fmtTime(s.start).split(" ");
  const [d2, t2] = fmtTime(s.end).split(" ");
  return d1 === d2 ? `${d1} ${t1} → ${t2} UTC` : `${d1} ${t1} → ${d2} ${t2} UTC`;
}

function renderWindowBar(s) {
  $("window-id").textContent = `#${s.id}`;
  $("window-id").dataset.id = s.id;
  const b = $("window-bounds");
  b.textContent = fmtBounds(s);
  b.dataset.startMs = s.start_ms;
  b.dataset.endMs = s.end_ms;
}

const nf = new Intl.NumberFormat("en");
function renderStats(d) {
  const rows = [
    ["events", d.events],
    ["interactions", d.interactions],
    ["accounts", d.vertices],
    ["edges", d.edges],
    ["components", d.components],
    ["largest", d.largest],
    ["clusters", d.clusters],
    ["late events", d.late_events],
  ];
  $("stats").replaceChildren(
    ...rows.map(([k, v]) => el("div", {}, el("dt", { textContent: k }), el("dd", { textContent: nf.format(v ?? 0) }))),
  );
}

function renderLegend() {
  const top = graph.clusterSummary().slice(0, 8);
  $("legend").replaceChildren(
    ...top.map((c) => {
      const label = clusterLabel(c);
      const b = el("button", { type: "button", className: "chip", title: `cluster ${label}: ${c.size} members, ${c.event ?? "no lineage"}` });
      b.style.setProperty("--c", c.color);
      b.append(el("span", { className: "dot" }), `${label} · ${c.size}`);
      if (c.id != null) b.dataset.clusterId = c.id;
      b.setAttribute("aria-pressed", String(c.id != null && state.cluster?.id === c.id));
      b.addEventListener("click", () => {
        if (c.id != null) selectCluster(c.id, { toggle: true });
        else graph.focus(graph.highlightedMembers().includes(c.members[0]) ? null : c.members[0]);
      });
      return b;
    }),
  );
}

function renderDatalist() {
  const logins = [];
  for (const c of graph.clusterSummary()) {
    for (const m of c.members) {
      logins.push(m);
      if (logins.length >= 300) break;
    }
    if (logins.length >= 300) break;
  }
  $("logins").replaceChildren(...logins.map((l) => el("option", { value: l })));
}

$("reset-camera").addEventListener("click", () => graph.resetCamera());

// ---------- node details ----------

function memberChips(members, max = 60) {
  const wrap = el("div", { className: "members" });
  for (const m of members.slice(0, max)) {
    const b = el("button", { type: "button", className: "member", textContent: m });
    b.addEventListener("click", () => search(m));
    wrap.append(b);
  }
  if (members.length > max) wrap.append(el("span", { className: "more", textContent: `+${members.length - max} more` }));
  return wrap;
}

function renderInfo(sel) {
  const info = $("info");
  if (!sel) {
    info.hidden = true;
    return;
  }
  const { login, cluster } = sel;
  // The panel of the selected login's cluster follows it (into a merge, say) from frame to frame.
  if (cluster.id != null && state.cluster?.id !== cluster.id) selectCluster(cluster.id);
  const head = el("div", { className: "info-head" });
  const swatch = el("span", { className: "dot" });
  swatch.style.setProperty("--c", cluster.color);
  head.append(swatch, el("strong", { textContent: login, className: "login" }));
  const close = el("button", { type: "button", className: "icon", textContent: "×", title: "Close" });
  close.addEventListener("click", () => graph.select(null));
  head.append(close);
  const meta = el("p", {
    className: "muted",
    textContent: `cluster ${clusterLabel(cluster)} (rank ${cluster.rank}) of window #${state.shown?.id} · ` +
      `${cluster.size} members${cluster.event ? ` · ${cluster.event}` : ""}`,
  });
  const actions = el("div", { className: "actions" });
  const hist = el("button", { type: "button", textContent: "History" });
  hist.addEventListener("click", () => search(login));
  actions.append(
    hist,
    el("a", { href: api.historyUrl(login), target: "_blank", rel: "noopener", textContent: "history JSON" }),
    el("a", {
      href: `/api/windows/${state.shown?.id}/clusters/${cluster.rank}`,
      target: "_blank",
      rel: "noopener",
      textContent: "cluster JSON",
    }),
  );
  info.replaceChildren(head, meta, actions, memberChips(cluster.members));
  info.dataset.login = login;
  info.hidden = false;
}

// ---------- search ----------

async function search(query) {
  const q = query.trim();
  $("search-input").value = q;
  if (!q) return clearSearch();
  const login = graph.resolveLogin(q) ?? q;
  state.searchLogin = login;
  graph.focus(login);
  renderSearchStatus();
  const results = $("results");
  results.dataset.state = "loading";
  loadPeople(login);
  try {
    const { history } = await api.history(login);
    if (state.searchLogin !== login) return;
    renderHistory(login, history);
  } catch (err) {
    if (state.searchLogin !== login) return;
    $("history-list").replaceChildren(el("li", { className: "muted", textContent: `history unavailable: ${err.message}` }));
  }
  results.dataset.state = "ready";
}

function clearSearch() {
  state.searchLogin = null;
  graph.focus(null);
  $("results").hidden = true;
  $("search-input").value = "";
}

function renderSearchStatus() {
  const login = state.searchLogin;
  const results = $("results");
  const c = graph.clusterOf(login);
  let head = $("search-head");
  if (!head || results.hidden) {
    const close = el("button", { type: "button", className: "icon", textContent: "×", title: "Clear search" });
    close.addEventListener("click", clearSearch);
    head = el("div", { id: "search-head", className: "info-head" });
    results.replaceChildren(
      head,
      el("p", { id: "search-where", className: "muted" }),
      el("h3", { textContent: "People to meet" }),
      el("div", { id: "people" }),
      el("h3", { textContent: "Developing influence" }),
      el("div", { id: "influence" }),
      el("h3", { textContent: "History" }),
      el("ol", { id: "history-list", className: "history" }, el("li", { className: "muted", textContent: "loading…" })),
    );
    results.hidden = false;
    head.append(el("strong", { className: "login", textContent: login }), close);
    $("people").dataset.testid = "people-to-meet";
    $("influence").dataset.testid = "influence";
  }
  results.dataset.login = login;
  $("search-where").textContent = c
    ? `in cluster ${clusterLabel(c)} (${c.size} members) of window #${state.shown?.id}`
    : `not in a drawn cluster of window #${state.shown?.id ?? "–"}`;
  results.dataset.inWindow = c ? "true" : "false";
}

function renderHistory(login, history) {
  const list = $("history-list");
  if (!history.length) {
    list.replaceChildren(el("li", { className: "muted", textContent: `${login} is in no stored cluster.` }));
    return;
  }
  list.replaceChildren(
    ...history.map((h) => {
      const b = el("button", { type: "button", className: "hist" });
      b.append(
        el("span", { className: "hid", textContent: `#${h.window_id}` }),
        el("span", { textContent: fmtBounds(h) }),
        el("span", { className: "muted", textContent: `rank ${h.rank} · size ${h.size}` }),
        el("span", {
          className: "muted nb",
          textContent: h.neighbors.length ? `with ${h.neighbors.slice(0, 6).join(", ")}${h.neighbors.length > 6 ? "…" : ""}` : "",
        }),
      );
      b.addEventListener("click", () => viewWindow(h.window_id));
      const li = el("li", {}, b);
      li.dataset.windowId = h.window_id;
      return li;
    }),
  );
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  search($("search-input").value);
});

// ---------- clusters with a life: the selected cluster, people to meet, momentum ----------

function selectCluster(id, { toggle = false } = {}) {
  if (id == null || (toggle && state.cluster?.id === id)) return closeCluster();
  const picked = graph.selected != null ? graph.clusterOf(graph.selected) : null;
  if (picked && picked.id !== id) graph.select(null); // a cluster picked by id, not through a login
  state.cluster = { id, life: null, lifeAt: 0, brokersKey: null, token: (state.cluster?.token ?? 0) + 1 };
  graph.focusCluster(id);
  renderLegend();
  const panel = $("cluster-panel");
  panel.hidden = false;
  panel.dataset.clusterId = id;
  const swatch = el("span", { className: "dot" });
  swatch.style.setProperty("--c", clusterColor(id));
  $("cluster-title").replaceChildren(swatch, `Cluster #${id}`);
  $("lineage").dataset.state = "loading";
  $("brokers").dataset.state = "loading";
  loadLife();
  loadBrokers();
}

function closeCluster() {
  state.cluster = null;
  $("cluster-panel").hidden = true;
  if (state.searchLogin) graph.focus(state.searchLogin);
  else graph.focusCluster(null);
  renderLegend();
}

$("cluster-close").addEventListener("click", closeCluster);

function drawLife() {
  const sel = state.cluster;
  if (!sel?.life) return;
  $("lineage").replaceChildren(
    lineageView(sel.life, { shownWindowId: state.shown?.id, onCluster: (id) => selectCluster(id), onWindow: viewWindow }),
  );
  $("lineage").dataset.clusterId = sel.id;
  $("lineage").dataset.state = "ready";
}

async function loadLife() {
  const sel = state.cluster;
  if (!sel) return;
  const token = sel.token;
  sel.lifeAt = performance.now();
  try {
    const life = await api.clusterLife(sel.id);
    if (state.cluster?.token !== token) return;
    sel.life = life;
    drawLife();
  } catch (err) {
    if (state.cluster?.token !== token) return;
    const gone = err instanceof ApiError && err.status === 404;
    $("lineage").replaceChildren(el("p", { className: "muted", textContent: gone
      ? `cluster #${sel.id} is no longer stored` : `life unavailable: ${err.message}` }));
    $("lineage").dataset.state = "error";
  }
}

async function loadBrokers() {
  const sel = state.cluster;
  const shown = state.shown;
  if (!sel || !shown) return;
  const c = graph.clusterById(sel.id);
  const box = $("brokers");
  if (!c) {
    sel.brokersKey = null;
    box.replaceChildren(el("p", { className: "muted", textContent: `#${sel.id} is not among the drawn clusters of window #${shown.id}.` }));
    box.dataset.state = "absent";
    return;
  }
  const key = `${shown.id}:${c.rank}`;
  if (key === sel.brokersKey) return;
  sel.brokersKey = key;
  $("brokers-title").textContent = `Brokers in window #${shown.id}`;
  try {
    const b = await api.brokers(shown.id, c.rank);
    if (state.cluster !== sel || sel.brokersKey !== key) return;
    box.replaceChildren(brokersView(b, { onLogin: (login) => search(login) }));
    box.dataset.windowId = shown.id;
    box.dataset.clusterId = sel.id;
    box.dataset.state = "ready";
  } catch (err) {
    if (state.cluster !== sel || sel.brokersKey !== key) return;
    box.replaceChildren(el("p", { className: "muted", textContent: `brokers unavailable: ${err.message}` }));
    box.dataset.state = "error";
  }
}

/** After a new frame: keep the selected cluster's panel on the shown window. */
function refreshCluster() {
  const sel = state.cluster;
  if (!sel) return;
  // Selected before its window was drawn (a #cluster= link, a chip of another window): highlight it now.
  if (state.searchLogin == null && graph.focusKey == null && graph.clusterById(sel.id)) graph.focusCluster(sel.id);
  const shown = state.shown?.id;
  const known = sel.life?.windows.some((w) => w.window_id === shown);
  if (sel.life && (known || state.paused || performance.now() - sel.lifeAt < LIFE_REFRESH_MS)) drawLife();
  else if (performance.now() - sel.lifeAt >= LIFE_REFRESH_MS || !sel.life) loadLife();
  loadBrokers();
}

async function loadPeople(login) {
  const people = $("people");
  const influence = $("influence");
  people.dataset.state = influence.dataset.state = "loading";
  const onLogin = (l) => search(l);
  try {
    const [rec, inf] = await Promise.all([api.recommendations(login), api.influence(login)]);
    if (state.searchLogin !== login) return;
    people.replaceChildren(peopleView(rec, { onLogin }));
    influence.replaceChildren(influenceView(inf, { onCluster: (id) => selectCluster(id) }));
    people.dataset.login = login;
    people.dataset.state = influence.dataset.state = "ready";
  } catch (err) {
    if (state.searchLogin !== login) return;
    people.replaceChildren(el("p", { className: "muted", textContent: `unavailable: ${err.message}` }));
    people.dataset.state = influence.dataset.state = "error";
  }
}

/** Growing clusters and bridges of the shown window; while live at most every MOMENTUM_MIN_INTERVAL_MS. */
function scheduleMomentum() {
  const id = state.shown?.id;
  if (id == null || id === state.momentumId || state.momentumTimer) return;
  const wait = state.paused ? 0 : Math.max(0, state.momentumAt + MOMENTUM_MIN_INTERVAL_MS - performance.now());
  state.momentumTimer = setTimeout(async () => {
    state.momentumTimer = null;
    const wid = state.shown?.id;
    if (wid == null || wid === state.momentumId) return;
    state.momentumId = wid;
    state.momentumAt = performance.now();
    const body = $("momentum-body");
    try {
      const [growing, bridges] = await Promise.all([api.growing(wid), api.bridges(wid)]);
      if (state.momentumId !== wid) return;
      const onCluster = (cid) => selectCluster(cid);
      body.replaceChildren(momentumView(growing, bridges, { onCluster, onLogin: (l) => search(l) }));
      body.dataset.state = "ready";
    } catch (err) {
      if (state.momentumId !== wid) return;
      const none = err instanceof ApiError && err.status === 404;
      body.replaceChildren(el("p", { className: "muted", textContent: none
        ? `window #${wid} has no cluster lives` : `unavailable: ${err.message}` }));
      body.dataset.state = none ? "none" : "error";
    }
    body.dataset.windowId = wid;
    scheduleMomentum(); // the shown window may have moved on meanwhile
  }, wait);
}

// ---------- pause, scrub, live ----------

function setPaused(paused) {
  state.paused = paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
  $("pause").setAttribute("aria-pressed", String(paused));
  document.body.classList.toggle("paused", paused);
  renderStatus();
  if (!paused) {
    const newest = state.newest;
    if (newest && newest.id !== state.shown?.id) render(newest);
    else if (!newest) loadLatest();
    syncScrubber();
  }
}

function syncScrubber() {
  const s = $("scrubber");
  const n = state.windows.length;
  s.max = String(Math.max(0, n - 1));
  s.disabled = n === 0;
  if (!state.paused) s.value = String(Math.max(0, n - 1));
  else if (state.shown) {
    const idx = indexOfId(state.shown.id);
    if (idx >= 0 && document.activeElement !== s) s.value = String(idx);
  }
  const i = Number(s.value);
  $("scrub-pos").textContent = n ? `${i + 1} / ${n}` : "";
}

function indexOfId(id) {
  let lo = 0;
  let hi = state.windows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = state.windows[mid].id;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

let scrubTimer = null;
$("scrubber").addEventListener("input", () => {
  const s = state.windows[Number($("scrubber").value)];
  if (!s) return;
  if (!state.paused) setPaused(true);
  renderWindowBar(s); // immediate feedback; the graph follows when the detail arrives
  $("scrub-pos").textContent = `${Number($("scrubber").value) + 1} / ${state.windows.length}`;
  clearTimeout(scrubTimer);
  scrubTimer = setTimeout(() => viewWindow(s.id), 120);
});

async function viewWindow(id) {
  if (!state.paused) setPaused(true);
  const token = ++state.fetchToken;
  const summary = state.byId.get(id);
  if (summary) renderWindowBar(summary);
  try {
    const detail = await api.window(id, MAX_CLUSTERS);
    if (token !== state.fetchToken || !state.paused) return;
    addSummaries([summaryOf(detail)]);
    render(detail);
  } catch (err) {
    if (token !== state.fetchToken) return;
    $("window-bounds").textContent =
      err instanceof ApiError && err.status === 404 ? `window #${id} is no longer stored` : `error: ${err.message}`;
  }
}

$("pause").addEventListener("click", () => setPaused(!state.paused));

// Older history, a page at a time; the scrubber keeps pointing at the same window.
function setNextBefore(id) {
  state.nextBefore = id ?? null;
  $("older").hidden = state.nextBefore == null;
}

$("older").addEventListener("click", async () => {
  if (state.nextBefore == null) return;
  const btn = $("older");
  btn.disabled = true;
  try {
    const { windows, next_before: nextBefore } = await api.windows(HISTORY_LIMIT, state.nextBefore);
    addSummaries(windows.slice().reverse());
    setNextBefore(nextBefore);
    if (!state.paused) setPaused(true);
    if (windows.length) viewWindow(windows[windows.length - 1].id);
  } finally {
    btn.disabled = false;
  }
});
$("live").addEventListener("click", () => {
  state.fetchToken++;
  setPaused(false);
});

// ---------- connection ----------

const rateFmt = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
async function pollStats() {
  try {
    const st = await api.stats();
    const r = $("rate");
    r.hidden = !(st.events_per_s > 0);
    r.textContent = `${rateFmt.format(st.events_per_s)} ev/s`;
    r.title = `pipeline: ${nf.format(st.events)} events read, ${Math.round(100 * st.filtered_share)}% filtered, ` +
      `${nf.format(st.windows)} windows`;
  } catch {
    // stats are decoration; the next poll may succeed
  }
  setTimeout(pollStats, 3000);
}

function renderStatus() {
  const s = $("status");
  const label = state.paused && state.connection === "live" ? "paused" : state.connection;
  s.textContent = label;
  s.dataset.state = label;
}

async function loadLatest() {
  try {
    const d = await api.latest(MAX_CLUSTERS);
    state.newest = state.newest && state.newest.id >= d.id ? state.newest : d;
    addSummaries([summaryOf(d)]);
    if (!state.paused) render(state.newest);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
}

async function start() {
  let sinceId = null;
  for (let attempt = 0; ; attempt++) {
    try {
      const { windows, next_before: nextBefore } = await api.windows(HISTORY_LIMIT);
      addSummaries(windows.slice().reverse());
      setNextBefore(nextBefore);
      await loadLatest();
      sinceId = state.windows.length ? state.windows[state.windows.length - 1].id : null;
      break;
    } catch (err) {
      state.connection = "reconnecting";
      renderStatus();
      $("window-bounds").textContent = `cannot reach the server (${err.message}); retrying…`;
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** attempt)));
    }
  }
  const feed = new LiveFeed({
    maxClusters: MAX_CLUSTERS,
    onStatus: (s) => {
      state.connection = s;
      renderStatus();
    },
    onWindow: (w) => {
      addSummaries([summaryOf(w)]);
      if (!state.newest || w.id > state.newest.id) state.newest = w;
      if (!state.paused) showLive(w);
    },
    onDropped: async ({ count, resume_from: first }) => {
      // We were too slow and the server skipped windows [first, first + count) for us: fill the charts' gap
      // from REST history (summaries only; the graph only ever needs the newest window).
      state.dropped += count;
      const d = $("dropped");
      d.hidden = false;
      d.textContent = `${nf.format(state.dropped)} frames skipped`;
      try {
        const n = Math.min(1000, count);
        const { windows } = await api.windows(n, first + n);
        addSummaries(windows.slice().reverse());
      } catch {
        // best effort: the charts just show a gap
      }
    },
  });
  state.feed = feed;
  feed.start(sinceId);
  pollStats();
  applyHash();
  window.addEventListener("hashchange", applyHash);
}

/** Links into the page: `#window=ID` opens that window (paused), `#cluster=ID` that cluster's life. */
function applyHash() {
  const w = /(?:^#|&)window=(\d+)/.exec(location.hash);
  const c = /(?:^#|&)cluster=(\d+)/.exec(location.hash);
  if (w) viewWindow(Number(w[1]));
  if (c) selectCluster(Number(c[1]));
}

// ---------- read-only hooks for tests and the console ----------

Object.defineProperty(window, "__pulse", {
  value: Object.freeze({
    get windowId() {
      return state.shown?.id ?? null;
    },
    get windowBounds() {
      return state.shown ? { start_ms: state.shown.start_ms, end_ms: state.shown.end_ms } : null;
    },
    get nodes() {
      return graph.graph.order;
    },
    get edges() {
      return graph.graph.size;
    },
    get renderedNodes() {
      // What sigma itself indexed for drawing at its last render, not just the graph model.
      return Object.keys(graph.renderer.nodeIndices ?? {}).length;
    },
    get renderedEdges() {
      return Object.keys(graph.renderer.edgeIndices ?? {}).length;
    },
    get chartPoints() {
      return { ...charts.points(), distribution: dist.points };
    },
    get highlighted() {
      return graph.highlightedMembers().sort();
    },
    get status() {
      return $("status").dataset.state;
    },
    get paused() {
      return state.paused;
    },
    get frames() {
      return state.frames;
    },
    get windowsLoaded() {
      return state.windows.length;
    },
    get maxClusters() {
      return MAX_CLUSTERS;
    },
    get dropped() {
      return state.dropped;
    },
    get lastLiveId() {
      return state.feed?.lastId ?? null;
    },
    get connects() {
      return state.feed?.connects ?? 0;
    },
    get clusterIds() {
      // The shown window's clusters by rank, named by the server's ids (null: stored without analytics).
      return graph.clusterSummary().map((c) => c.id);
    },
    get clusterColors() {
      return graph.drawnColors();
    },
    get selectedCluster() {
      return state.cluster?.id ?? null;
    },
  }),
});

start();
