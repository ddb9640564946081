// The UI's only data source: the public HTTP/WebSocket API of docs/api.md.

export class ApiError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}: ${detail}`);
    this.status = status;
  }
}

async function getJson(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = (await res.json()).detail ?? detail;
    } catch {
      // body was not JSON; keep the status text
    }
    throw new ApiError(res.status, detail);
  }
  return res.json();
}

export const api = {
  windows: (limit, before) =>
    getJson(`/api/windows?limit=${limit}${before != null ? `&before=${before}` : ""}`),
  window: (id, maxClusters) => getJson(`/api/windows/${id}?max_clusters=${maxClusters}`),
  latest: (maxClusters) => getJson(`/api/windows/latest?max_clusters=${maxClusters}`),
  history: (login, limit = 100) =>
    getJson(`/api/logins/${encodeURIComponent(login)}/history?limit=${limit}`),
  stats: () => getJson("/api/stats"),
  // Clusters with a life (docs/api.md).
  clusterLife: (id, limit = 500) => getJson(`/api/clusters/${id}?limit=${limit}`),
  brokers: (windowId, rank) => getJson(`/api/windows/${windowId}/clusters/${rank}/brokers`),
  influence: (login, limit = 20) => getJson(`/api/logins/${encodeURIComponent(login)}/influence?limit=${limit}`),
  recommendations: (login, k = 8) => getJson(`/api/logins/${encodeURIComponent(login)}/recommendations?k=${k}`),
  growing: (windowId, limit = 8) => getJson(`/api/momentum/growing?window_id=${windowId}&limit=${limit}`),
  bridges: (windowId) => getJson(`/api/momentum/bridges?window_id=${windowId}&clusters=3&k=2`),
  historyUrl: (login) => `/api/logins/${encodeURIComponent(login)}/history`,
};

/**
 * The live feed with automatic resume: after a disconnect it reconnects with `since=<last id seen>` so the
 * server replays what we missed; backoff grows to 5 s. Callbacks: onStatus("connecting"|"live"|"reconnecting"),
 * onWindow(WindowDetail), onDropped({count, resume_from}).
 */
export class LiveFeed {
  constructor({ maxClusters, onStatus, onWindow, onDropped }) {
    this.maxClusters = maxClusters;
    this.onStatus = onStatus;
    this.onWindow = onWindow;
    this.onDropped = onDropped;
    this.lastId = null;
    this.backoff = 500;
    this.ws = null;
    this.stopped = false;
    this.connects = 0;
  }

  start(sinceId) {
    this.lastId = sinceId;
    this.onStatus("connecting");
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const since = this.lastId != null ? `&since=${this.lastId}` : "";
    this.connects++;
    const ws = new WebSocket(`${proto}://${location.host}/api/live?max_clusters=${this.maxClusters}${since}`);
    this.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === "hello") {
        this.backoff = 500;
        // A store newer than the page (server restarted on a fresh store): ids start over, so start over too.
        if (msg.latest_id != null && this.lastId != null && msg.latest_id < this.lastId) {
          location.reload();
          return;
        }
        this.onStatus("live");
      } else if (msg.type === "window") {
        // Replays after a resume may overlap what we already hold; ids are monotonic, so skip older ones.
        if (this.lastId != null && msg.window.id <= this.lastId) return;
        this.lastId = msg.window.id;
        this.onWindow(msg.window);
      } else if (msg.type === "dropped") {
        this.onDropped(msg);
      }
    };
    ws.onclose = () => {
      if (this.stopped) return;
      this.onStatus("reconnecting");
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
    ws.onerror = () => ws.close();
  }
}
