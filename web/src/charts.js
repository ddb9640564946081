// Charts over time (one point per window, growing as windows arrive) and the current window's cluster-size
// distribution on log-log axes. uPlot draws on canvas and copes with tens of thousands of points.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const AXIS = {
  stroke: "#8b93a7",
  grid: { stroke: "rgba(139, 147, 167, 0.12)", width: 1 },
  ticks: { stroke: "rgba(139, 147, 167, 0.25)", width: 1, size: 4 },
  font: "11px system-ui, sans-serif",
};

function compact(v) {
  if (v == null) return "";
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

// Event time is UTC (GH Archive); label ticks in UTC, one line each, with the date only when the span needs it.
const pad = (n) => String(n).padStart(2, "0");
function utcTicks(u, splits) {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return span > 2 * 86400 ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` : hm;
  });
}

function sizeOf(el) {
  const w = Math.max(200, Math.floor(el.clientWidth));
  return { width: w, height: Math.max(120, Math.min(160, Math.round(w * 0.3))) };
}

/** One time-series chart; clicking a point calls onPick(windowId). */
class SeriesChart {
  constructor(el, { label, color, field, onPick, getMarkerX }) {
    this.el = el;
    this.field = field;
    this.ids = [];
    this.useTime = true;
    const opts = {
      ...sizeOf(el),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: { x: { time: true } },
      axes: [
        { ...AXIS, size: 28, space: 60, values: (u, splits) => (this.useTime ? utcTicks(u, splits) : splits.map((v) => `#${v}`)) },
        { ...AXIS, size: 44, values: (u, vals) => vals.map(compact) },
      ],
      series: [
        {},
        {
          label,
          stroke: color,
          width: 1.6,
          fill: color + "22",
          points: { show: false },
        },
      ],
      hooks: {
        draw: [
          (u) => {
            // Marker at the window shown in the graph (useful while scrubbing history).
            const x = getMarkerX(this);
            if (x == null) return;
            const px = u.valToPos(x, "x", true);
            if (!Number.isFinite(px)) return;
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = "rgba(255, 255, 255, 0.55)";
            ctx.setLineDash([4, 4]);
            ctx.lineWidth = 1;
            ctx.beginPath();
            ctx.moveTo(px, u.bbox.top);
            ctx.lineTo(px, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.restore();
          },
        ],
      },
    };
    this.plot = new uPlot(opts, [[], []], el);
    this.plot.over.addEventListener("click", () => {
      const idx = this.plot.cursor.idx;
      if (idx != null && this.ids[idx] != null) onPick(this.ids[idx]);
    });
  }

  setData(summaries) {
    // Event time is the natural x; fall back to window ids if times ever go backwards (e.g. a replay loop
    // without time shift), because uPlot needs ascending x.
    let monotonic = true;
    for (let i = 1; i < summaries.length; i++) {
      if (summaries[i].end_ms <= summaries[i - 1].end_ms) {
        monotonic = false;
        break;
      }
    }
    if (monotonic !== this.useTime) {
      this.useTime = monotonic;
      this.plot.scales.x.time = monotonic;
    }
    this.ids = summaries.map((s) => s.id);
    const xs = summaries.map((s) => (monotonic ? s.end_ms / 1000 : s.id));
    const ys = summaries.map((s) => s[this.field]);
    this.xOf = new Map(summaries.map((s, i) => [s.id, xs[i]]));
    this.plot.setData([xs, ys]);
  }

  get points() {
    return this.ids.length;
  }

  resize() {
    this.plot.setSize(sizeOf(this.el));
  }
}

export class TimeCharts {
  constructor(root, { onPick }) {
    this.markerId = null;
    const getMarkerX = (chart) => (this.markerId != null ? chart.xOf?.get(this.markerId) : null);
    const specs = {
      events: { label: "events", color: "#4cc9f0" },
      components: { label: "components", color: "#06d6a0" },
      largest: { label: "largest cluster", color: "#f72585" },
    };
    this.charts = {};
    for (const [field, spec] of Object.entries(specs)) {
      const el = root.querySelector(`[data-chart="${field}"]`);
      this.charts[field] = new SeriesChart(el, { ...spec, field, onPick, getMarkerX });
    }
  }

  setData(summaries) {
    for (const c of Object.values(this.charts)) c.setData(summaries);
  }

  setMarker(id) {
    this.markerId = id;
    for (const c of Object.values(this.charts)) c.plot.redraw(false, false);
  }

  points() {
    return Object.fromEntries(Object.entries(this.charts).map(([k, c]) => [k, c.points]));
  }

  resize() {
    for (const c of Object.values(this.charts)) c.resize();
  }
}

/** How many listed clusters have each size, on log-log axes. */
export class DistributionChart {
  constructor(el) {
    this.el = el;
    this.n = 0;
    const logRange = (u, min, max) => [1, Math.max(10, 10 ** Math.ceil(Math.log10((max || 1) * 1.5)))];
    this.plot = new uPlot(
      {
        ...sizeOf(el),
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 9 } },
        scales: {
          x: { time: false, distr: 3, log: 10, range: logRange },
          y: { distr: 3, log: 10, range: logRange },
        },
        axes: [
          { ...AXIS, size: 30, label: "cluster size", labelSize: 14, labelFont: AXIS.font },
          { ...AXIS, size: 44, label: "clusters", labelSize: 14, labelFont: AXIS.font },
        ],
        series: [
          {},
          {
            label: "clusters",
            stroke: "#ffd166",
            width: 0,
            paths: () => null,
            points: { show: true, size: 7, fill: "#ffd166", stroke: "#ffd166" },
          },
        ],
      },
      [[], []],
      el,
    );
  }

  setWindow(detail) {
    const counts = new Map();
    for (const c of detail.cluster_list ?? []) counts.set(c.size, (counts.get(c.size) ?? 0) + 1);
    const sizes = [...counts.keys()].sort((a, b) => a - b);
    this.n = sizes.length;
    this.plot.setData([sizes, sizes.map((s) => counts.get(s))]);
  }

  get points() {
    return this.n;
  }

  resize() {
    this.plot.setSize(sizeOf(this.el));
  }
}
