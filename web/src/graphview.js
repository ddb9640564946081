// Graph view of one window's clusters: Sigma.js v3 (WebGL) over a graphology graph, ForceAtlas2 in a web worker.
//
// Frames are applied as diffs, not rebuilt: nodes that persist keep their position (the layout continues from
// where it was). A cluster's colour and label come from the server's `cluster_id` (docs/analytics.md) alone, so
// they stay put across frames, pauses and scrubbing, and every tab shows the same colour for the same cluster.
// A login is in exactly one cluster per window, so logins are node keys.

import Graph from "graphology";
import FA2Layout from "graphology-layout-forceatlas2/worker";
import forceAtlas2 from "graphology-layout-forceatlas2";
import Sigma from "sigma";

// Colour-blind-friendly-ish categorical palette, readable on the dark background.
const PALETTE = [
  "#4cc9f0", "#f72585", "#ffd166", "#06d6a0", "#f4a261", "#b388ff", "#ef476f", "#90be6d",
  "#3a86ff", "#ff9f1c", "#e0aaff", "#80ffdb", "#e76f51", "#d4f270", "#ff8fab", "#f1f5f9",
];
const DIM_NODE = "#2a3142";
const DIM_EDGE = "rgba(60, 68, 88, 0.35)";
const LAYOUT_RUN_MS = 6000;

/** The colour of cluster `id`: a function of the id alone, the same in every tab and every frame. Consecutive
 * ids (clusters born together) differ. */
export function clusterColor(id) {
  return PALETTE[((id % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** How the UI names a cluster everywhere: its server id. */
export function clusterLabel(cluster) {
  return cluster.id != null ? `#${cluster.id}` : `rank ${cluster.rank}`;
}

function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function edgeKey(a, b) {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

// Hover label on a dark card (sigma's default is a white box sized for light themes).
function drawHover(context, data, settings) {
  const size = settings.labelSize;
  context.font = `600 ${size}px ${settings.labelFont}`;
  const label = data.label ?? "";
  const w = context.measureText(label).width + 12;
  const h = size + 10;
  const x = data.x + data.size + 4;
  const y = data.y - h / 2;
  context.fillStyle = "rgba(15, 20, 32, 0.92)";
  context.strokeStyle = data.color;
  context.lineWidth = 1.5;
  context.beginPath();
  context.roundRect(x, y, w, h, 5);
  context.fill();
  context.stroke();
  context.beginPath();
  context.arc(data.x, data.y, data.size + 3, 0, Math.PI * 2);
  context.stroke();
  context.fillStyle = "#f1f4fa";
  context.fillText(label, x + 6, data.y + size / 3);
}

export class GraphView {
  /**
   * @param {HTMLElement} container
   * @param {{onSelect: (sel: object|null) => void}} callbacks
   */
  constructor(container, { onSelect }) {
    this.graph = new Graph({ type: "undirected", multi: false, allowSelfLoops: false });
    this.onSelect = onSelect;
    this.clusters = new Map(); // cluster key -> {key, color, rank, size, members: string[]}
    this.loginCluster = new Map(); // login -> cluster key
    this.focusKey = null; // cluster highlighted by search
    this.focusLogin = null;
    this.hoverKey = null;
    this.selected = null;

    this.renderer = new Sigma(this.graph, container, {
      allowInvalidContainer: true,
      zIndex: true,
      labelFont: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
      labelSize: 12,
      labelWeight: "500",
      labelColor: { color: "#d5dbe8" },
      labelRenderedSizeThreshold: 7,
      labelDensity: 0.5,
      labelGridCellSize: 80,
      defaultDrawNodeHover: drawHover,
      minCameraRatio: 0.05,
      maxCameraRatio: 4,
      stagePadding: 24,
      nodeReducer: (node, data) => this.reduceNode(node, data),
      edgeReducer: (edge, data) => this.reduceEdge(edge, data),
    });

    this.layout = new FA2Layout(this.graph, {
      settings: { ...forceAtlas2.inferSettings(500), gravity: 0.5, scalingRatio: 6, slowDown: 2 },
    });
    this.layoutTimer = null;

    this.renderer.on("enterNode", ({ node }) => {
      this.hoverKey = this.graph.getNodeAttribute(node, "cluster");
      container.style.cursor = "pointer";
      this.renderer.refresh({ skipIndexation: true });
    });
    this.renderer.on("leaveNode", () => {
      this.hoverKey = null;
      container.style.cursor = "";
      this.renderer.refresh({ skipIndexation: true });
    });
    this.renderer.on("clickNode", ({ node }) => this.select(node));
    this.renderer.on("clickStage", () => this.select(null));
  }

  reduceNode(node, data) {
    const focus = this.hoverKey ?? this.focusKey;
    if (focus == null) return data;
    if (data.cluster !== focus) return { ...data, color: DIM_NODE, label: null, zIndex: 0 };
    const res = { ...data, zIndex: 1 };
    if (node === this.focusLogin || node === this.selected) {
      res.highlighted = true;
      res.size = data.size + 3;
    }
    if (this.clusters.get(focus)?.size <= 40) res.forceLabel = true;
    return res;
  }

  reduceEdge(edge, data) {
    const focus = this.hoverKey ?? this.focusKey;
    if (focus == null || data.cluster === focus) return data;
    return { ...data, color: DIM_EDGE, zIndex: 0 };
  }

  /** Key and colour of each cluster from its server id; one without an id (a window stored without analytics)
   * gets a key of its own for this frame and a colour by rank. */
  keyClusters(detail) {
    return (detail.cluster_list ?? []).map((cluster) => {
      const id = cluster.cluster_id;
      if (id == null) return { key: `w${detail.id}r${cluster.rank}`, color: PALETTE[cluster.rank % PALETTE.length], cluster };
      return { key: `c${id}`, color: clusterColor(id), cluster };
    });
  }

  /** Apply a WindowDetail as a diff of the current graph. */
  update(detail) {
    const g = this.graph;
    const matched = this.keyClusters(detail);
    const nextNodes = new Map(); // login -> {key, color, degree}
    const nextEdges = new Map(); // edgeKey -> [a, b, clusterKey, color]
    const adjacency = new Map();
    for (const { key, color, cluster } of matched) {
      const ms = cluster.members;
      for (const m of ms) nextNodes.set(m, { key, color, degree: 0 });
      for (const [i, j] of cluster.edges) {
        const a = ms[i];
        const b = ms[j];
        if (a === undefined || b === undefined || a === b) continue;
        const ek = edgeKey(a, b);
        if (nextEdges.has(ek)) continue;
        nextEdges.set(ek, [a, b, key, color]);
        nextNodes.get(a).degree++;
        nextNodes.get(b).degree++;
        if (!adjacency.has(a)) adjacency.set(a, []);
        if (!adjacency.has(b)) adjacency.set(b, []);
        adjacency.get(a).push(b);
        adjacency.get(b).push(a);
      }
    }

    // Scale for placing newcomers: the extent of the current layout.
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    g.forEachNode((n, a) => {
      if (!nextNodes.has(n)) return;
      minX = Math.min(minX, a.x); maxX = Math.max(maxX, a.x);
      minY = Math.min(minY, a.y); maxY = Math.max(maxY, a.y);
    });
    const hasExtent = Number.isFinite(minX);
    const cx = hasExtent ? (minX + maxX) / 2 : 0;
    const cy = hasExtent ? (minY + maxY) / 2 : 0;
    const extent = hasExtent ? Math.max(maxX - minX, maxY - minY, 50) : 200;
    // Newcomers sit one typical edge length from their neighbour, so the layout has little to undo.
    const lengths = [];
    g.forEachEdge((e, _a, s, t, sa, ta) => {
      if (lengths.length < 500) lengths.push(Math.hypot(sa.x - ta.x, sa.y - ta.y));
    });
    lengths.sort((a, b) => a - b);
    const step = lengths.length ? lengths[lengths.length >> 1] : extent * 0.03;

    g.forEachEdge((e) => {
      if (!nextEdges.has(e)) g.dropEdge(e);
    });
    g.forEachNode((n) => {
      if (!nextNodes.has(n)) g.dropNode(n);
    });

    // Positions: persisting nodes keep theirs; newcomers go next to a placed neighbour (BFS through the
    // cluster's tree), and a cluster with no placed member starts at a random point on the layout's rim.
    const pos = new Map();
    g.forEachNode((n, a) => pos.set(n, [a.x, a.y]));
    const jitter = () => (Math.random() - 0.5) * 2 * step;
    const around = ([x, y]) => {
      const a = Math.random() * Math.PI * 2;
      return [x + step * Math.cos(a), y + step * Math.sin(a)];
    };
    for (const { cluster } of matched) {
      const queue = cluster.members.filter((m) => pos.has(m));
      if (queue.length === 0) {
        // A new cluster: seed it somewhere inside the current layout; gravity and repulsion find it a place.
        const angle = Math.random() * Math.PI * 2;
        const r = Math.sqrt(Math.random()) * extent * 0.45;
        const root = cluster.members[0];
        pos.set(root, [cx + r * Math.cos(angle), cy + r * Math.sin(angle)]);
        queue.push(root);
      }
      for (let qi = 0; qi < queue.length; qi++) {
        const here = pos.get(queue[qi]);
        for (const nb of adjacency.get(queue[qi]) ?? []) {
          if (pos.has(nb)) continue;
          pos.set(nb, around(here));
          queue.push(nb);
        }
      }
      for (const m of cluster.members) if (!pos.has(m)) pos.set(m, [cx + jitter() * 5, cy + jitter() * 5]);
    }

    for (const [login, { key, color, degree }] of nextNodes) {
      const attrs = {
        label: login,
        cluster: key,
        color,
        size: 2.5 + 1.6 * Math.sqrt(degree),
      };
      if (g.hasNode(login)) g.mergeNodeAttributes(login, attrs);
      else {
        const [x, y] = pos.get(login);
        g.addNode(login, { ...attrs, x, y });
      }
    }
    for (const [ek, [a, b, key, color]] of nextEdges) {
      const attrs = { cluster: key, color: rgba(color, 0.55), size: 1 };
      if (g.hasEdge(ek)) g.mergeEdgeAttributes(ek, attrs);
      else g.addEdgeWithKey(ek, a, b, attrs);
    }

    this.clusters = new Map(
      matched.map(({ key, color, cluster }) => [
        key,
        {
          key,
          color,
          id: cluster.cluster_id ?? null,
          event: cluster.event ?? null,
          parents: cluster.parents ?? [],
          trend: cluster.trend ?? null,
          rank: cluster.rank,
          size: cluster.size,
          members: cluster.members,
        },
      ]),
    );
    this.loginCluster = new Map();
    for (const [login, { key }] of nextNodes) this.loginCluster.set(login, key);

    // A highlighted cluster stays highlighted while its id is shown; a searched login's follows the login.
    if (this.focusLogin != null) this.focusKey = this.loginCluster.get(this.focusLogin) ?? null;
    else if (this.focusKey != null && !this.clusters.has(this.focusKey)) this.focusKey = null;
    if (this.selected && !g.hasNode(this.selected)) this.select(null);
    else if (this.selected) this.select(this.selected);
    this.runLayout();
  }

  runLayout() {
    if (this.graph.order === 0) return;
    this.layout.start();
    clearTimeout(this.layoutTimer);
    this.layoutTimer = setTimeout(() => this.layout.stop(), LAYOUT_RUN_MS);
  }

  /** The node key for a typed login: exact, else case-insensitive (GitHub logins are case-insensitive). */
  resolveLogin(query) {
    if (this.loginCluster.has(query)) return query;
    const q = query.toLowerCase();
    for (const login of this.loginCluster.keys()) if (login.toLowerCase() === q) return login;
    return null;
  }

  /** The shown cluster with server id `id`, or null. */
  clusterById(id) {
    return this.clusters.get(`c${id}`) ?? null;
  }

  /** Highlight a whole cluster by its server id (null clears). */
  focusCluster(id) {
    this.focusLogin = null;
    this.focusKey = id != null && this.clusters.has(`c${id}`) ? `c${id}` : null;
    this.renderer.refresh({ skipIndexation: true });
    return this.highlightedMembers();
  }

  /** {cluster_id: colour} of the drawn nodes, read from the graph itself (what sigma draws). */
  drawnColors() {
    const out = {};
    this.graph.forEachNode((_n, a) => {
      const c = this.clusters.get(a.cluster);
      if (c && c.id != null) out[c.id] = a.color;
    });
    return out;
  }

  clusterOf(login) {
    const key = this.loginCluster.get(login);
    return key !== undefined ? this.clusters.get(key) : null;
  }

  select(login) {
    this.selected = login;
    const cluster = login != null ? this.clusterOf(login) : null;
    this.onSelect(cluster ? { login, cluster } : null);
    this.renderer.refresh({ skipIndexation: true });
  }

  /** Highlight the cluster of `login` (kept across frames while the login is in the window); null clears. */
  focus(login) {
    this.focusLogin = login;
    this.focusKey = login != null ? (this.loginCluster.get(login) ?? null) : null;
    this.renderer.refresh({ skipIndexation: true });
    return this.highlightedMembers();
  }

  highlightedMembers() {
    const c = this.focusKey != null ? this.clusters.get(this.focusKey) : null;
    return c ? [...c.members] : [];
  }

  clusterSummary() {
    return [...this.clusters.values()].sort((a, b) => a.rank - b.rank);
  }

  resetCamera() {
    this.renderer.getCamera().animatedReset({ duration: 300 });
  }
}
