-- networkpulse SQLite store, schema version 5 (kept in PRAGMA user_version; application_id marks the file as ours).
-- Applied once, in one transaction, when a store file is created. A schema change bumps the version and adds a
-- migration in sqlite.py; a file with a newer version than this code knows is refused, never guessed at.
--
-- No foreign keys: retention deletes children explicitly, and FK checks would cost a parent lookup per row on the
-- hot insert path (hundreds of windows, ~10^4 membership runs per second).

CREATE TABLE accounts (
  id    INTEGER PRIMARY KEY,     -- dense store id; cluster member blobs hold these as int32
  login TEXT NOT NULL UNIQUE     -- exact login as seen (the engine interns exact strings)
);
-- "Which cluster is alice in" matches logins case-insensitively, as GitHub does.
CREATE INDEX accounts_login_nocase ON accounts (login COLLATE NOCASE);

CREATE TABLE windows (
  -- AUTOINCREMENT: ids are never reused after retention deletes, so a live-feed resume id stays meaningful.
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  start_ms     INTEGER NOT NULL,
  end_ms       INTEGER NOT NULL,
  events       INTEGER NOT NULL,
  interactions INTEGER NOT NULL,
  vertices     INTEGER NOT NULL,
  edges        INTEGER NOT NULL,
  components   INTEGER NOT NULL,
  largest      INTEGER NOT NULL,
  late_events  INTEGER NOT NULL,
  n_clusters   INTEGER NOT NULL,
  -- 1: emitted at the end of a run before the watermark passed it (its panes may still get events); the next
  -- run on this store replaces it from the checkpoint. 0: final.
  provisional  INTEGER NOT NULL DEFAULT 0
);
-- The natural key: a window is its bounds. Writes skip a window whose bounds are stored (idempotent replays).
CREATE UNIQUE INDEX windows_bounds ON windows (start_ms, end_ms);
-- Every write drops the provisional windows first: a partial index finds the few without scanning every window.
CREATE INDEX windows_provisional ON windows (id) WHERE provisional = 1;

-- One row per window that has listed clusters (size >= min_size), all of them together: a busy window has
-- hundreds of small clusters, and one row per cluster made the insert path row-bound. Cluster k (rank k,
-- 0 = largest) is members[o_k : o_k + size_k] and edges[o_k - k : o_k + size_k - k - 1] with o_k the sum of the
-- sizes before it.
CREATE TABLE clusters (
  window_id INTEGER PRIMARY KEY,
  sizes     BLOB NOT NULL,       -- little-endian int32 cluster sizes, rank order
  members   BLOB NOT NULL,       -- little-endian int32 account ids, cluster after cluster (ascending vertex id inside)
  edges     BLOB NOT NULL        -- member-index pairs within each cluster: uint16 if every size <= 65536, else int32
);

-- One row per run of consecutive windows (ids first_id..last_id) an account was in a stored cluster of
-- (member_runs.py): sliding windows keep an account ~10 windows, so ~9x fewer rows than one per (account, window).
-- Login history is a backward range scan; the rank is found in the window's member blob. Deletes find the runs from
-- the dropped windows' member blobs; retention leaves a run that began in them, read from the oldest window on.
CREATE TABLE member_runs (
  account_id INTEGER NOT NULL,
  last_id    INTEGER NOT NULL,
  first_id   INTEGER NOT NULL,
  PRIMARY KEY (account_id, last_id)
) WITHOUT ROWID;
-- The old per-(account, window) shape, for ad-hoc SQL.
CREATE VIEW membership (account_id, window_id) AS
  WITH RECURSIVE expanded (account_id, window_id, last_id) AS (
    SELECT account_id, max(first_id, coalesce((SELECT min(id) FROM windows), 0)), last_id FROM member_runs
      WHERE last_id >= coalesce((SELECT min(id) FROM windows), 0)
    UNION ALL
    SELECT account_id, window_id + 1, last_id FROM expanded WHERE window_id < last_id
  ) SELECT account_id, window_id FROM expanded;

CREATE TABLE stats (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  json TEXT NOT NULL
);

-- The engine's open state after the last committed window, written in the same transaction as the windows, so
-- a killed run resumes exactly and a later run continues the stream (see sqlite.py, Checkpoint).
CREATE TABLE checkpoint (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  config  TEXT NOT NULL,         -- JSON: the window configuration; another one is refused
  state   TEXT NOT NULL,         -- JSON: input positions per source, cumulative counters
  engine  BLOB NOT NULL          -- numpy .npz of WindowEngine.snapshot()
);

-- How far each input source was consumed, committed with the windows (see Checkpoint.inputs): a rerun skips what
-- was applied. One row per source ever read; only rows that changed are written.
CREATE TABLE inputs (
  source TEXT PRIMARY KEY,       -- the source's real path (and #loop for a time-shifted replay loop)
  line   INTEGER NOT NULL,       -- events on lines <= this one were applied
  done   INTEGER NOT NULL,       -- 1: read to its end
  size   INTEGER NOT NULL,       -- the file's size and mtime when read: a changed file is read again
  mtime_ns INTEGER NOT NULL
) WITHOUT ROWID;

-- Clusters with a life (see lives.py): per window with listed clusters (or clusters that ended in it), the analytics
-- stage's annotations as one packed blob: cluster ids, lineage events and parents, ended clusters, momentum, and the
-- distinct pairs inside each cluster with articulation flags and bridges. Absent for windows written without them.
CREATE TABLE analytics (
  window_id INTEGER PRIMARY KEY,
  data      BLOB NOT NULL
);

-- One row per (cluster id, window) of its life: a cluster's life is one range scan. rank -1, event 255: the window
-- the cluster ended in. Keyed by cluster first, like membership by account: deletes go by primary key.
CREATE TABLE lives (
  cluster_id INTEGER NOT NULL,
  window_id  INTEGER NOT NULL,
  rank       INTEGER NOT NULL,
  event      INTEGER NOT NULL,
  PRIMARY KEY (cluster_id, window_id)
) WITHOUT ROWID;
