-- networkpulse PostgreSQL store, schema version 2 (the `version` of the one networkpulse_store row; that table is
-- also what marks a schema as ours). The same tables as the SQLite store (schema.sql) with the same meaning, in the
-- connection's current schema: several stores can share a database, one per schema (libpq URL parameter
-- options=-csearch_path%3Dname). Applied once, in one transaction, by the first writer. A schema change bumps the
-- version and adds a migration in postgres.py; a newer version than this code knows is refused, never guessed at.
--
-- No foreign keys, as in SQLite: retention deletes children explicitly, and FK checks would cost a parent lookup per
-- row on the hot insert path (hundreds of windows, ~10^5 membership rows per second).

CREATE TABLE networkpulse_store (
  id             integer PRIMARY KEY CHECK (id = 1),
  version        integer NOT NULL,
  -- Window ids are handed out from here, inside the writing transaction: they only grow (retention and start_over
  -- never give one back), a batch gets consecutive ids known before its rows are sent (the cluster and membership
  -- rows carry them), and a rolled-back batch gives its ids back, as SQLite's sqlite_sequence does. A sequence
  -- would leave gaps on every rollback and needs a round trip per id or a guess at contiguity.
  last_window_id bigint NOT NULL DEFAULT 0,
  windows        bigint NOT NULL DEFAULT 0   -- windows stored, kept by the writer: count(*) would scan the table
);

CREATE TABLE accounts (
  id    integer PRIMARY KEY,     -- dense store id, assigned by the one writer in interner order; member blobs hold int32
  login text NOT NULL UNIQUE     -- exact login as seen (the engine interns exact strings)
);
-- "Which cluster is alice in" matches logins case-insensitively as SQLite's NOCASE does: ASCII letters only (lower()
-- under the "C" collation folds exactly those), whatever the database's locale.
CREATE INDEX accounts_login_nocase ON accounts (lower(login COLLATE "C"));

CREATE TABLE windows (
  id           bigint PRIMARY KEY,
  start_ms     bigint NOT NULL,
  end_ms       bigint NOT NULL,
  events       bigint NOT NULL,
  interactions bigint NOT NULL,
  vertices     bigint NOT NULL,
  edges        bigint NOT NULL,
  components   bigint NOT NULL,
  largest      bigint NOT NULL,
  late_events  bigint NOT NULL,
  n_clusters   integer NOT NULL,
  -- true: emitted at the end of a run before the watermark passed it; the next write replaces it.
  provisional  boolean NOT NULL DEFAULT false,
  -- The natural key: a window is its bounds. Writes skip a window whose bounds are stored (idempotent replays).
  CONSTRAINT windows_bounds UNIQUE (start_ms, end_ms)
);
-- Every write first drops the provisional windows (a handful): without this index that is a scan of every window.
CREATE INDEX windows_provisional ON windows (id) WHERE provisional;

-- One row per window with listed clusters, all of them together (layout in codec.py). EXTERNAL: stored without
-- compression (out of line once a row passes ~2 kB): on benchmark windows (~2.6 kB of blobs each) pglz saved 1 %
-- of the space and made the inserts ~1.5x as slow (and full reads slower still).
CREATE TABLE clusters (
  window_id bigint PRIMARY KEY,
  sizes     bytea NOT NULL,
  members   bytea NOT NULL,
  edges     bytea NOT NULL
);
ALTER TABLE clusters ALTER COLUMN sizes SET STORAGE EXTERNAL,
  ALTER COLUMN members SET STORAGE EXTERNAL, ALTER COLUMN edges SET STORAGE EXTERNAL;

-- One row per (account, window) the account was in a stored cluster of: login history is a backward range scan of
-- the primary key. Columns ordered widest first so a row has no alignment padding (16 bytes of data).
CREATE TABLE membership (
  window_id  bigint NOT NULL,
  account_id integer NOT NULL,
  rank       integer NOT NULL,
  PRIMARY KEY (account_id, window_id)
);

CREATE TABLE stats (
  id  integer PRIMARY KEY CHECK (id = 1),
  doc json NOT NULL              -- json, not jsonb: the document keeps the key order it was written with
);

-- The engine's open state after the last committed window, written in the same transaction as the windows.
CREATE TABLE checkpoint (
  id     integer PRIMARY KEY CHECK (id = 1),
  config json NOT NULL,          -- the window configuration; another one is refused
  state  json NOT NULL,          -- input positions per source, cumulative counters
  engine bytea NOT NULL          -- numpy .npz of WindowEngine.snapshot()
);

-- How far each input source was consumed, committed with the windows (see Checkpoint.inputs).
CREATE TABLE inputs (
  source   text PRIMARY KEY,
  line     bigint NOT NULL,
  done     boolean NOT NULL,
  size     bigint NOT NULL,
  mtime_ns bigint NOT NULL
);

-- Clusters with a life (see lives.py; the same as SQLite's): the analytics stage's annotations per window as one
-- packed blob, and one row per (cluster id, window) of a cluster's life (rank -1, event 255: the window it ended in).
CREATE TABLE analytics (
  window_id bigint PRIMARY KEY,
  data      bytea NOT NULL
);
ALTER TABLE analytics ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE lives (
  cluster_id bigint NOT NULL,
  window_id  bigint NOT NULL,
  rank       integer NOT NULL,
  event      integer NOT NULL,
  PRIMARY KEY (cluster_id, window_id)
);
