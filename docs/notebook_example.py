"""networkpulse in a notebook: the largest cluster over time, from one real GH Archive hour.

Run it as a script (each ``# %%`` cell also runs on its own in Jupyter or VS Code)::

    .venv/bin/python docs/notebook_example.py [HOUR.json.gz] [-o largest.png]

Without a file it reads the hour bundled with the package (2015-01-01 12:00 UTC). It needs the notebook extra:
``pip install 'networkpulse[notebook]'`` (pandas, networkx, pyarrow, matplotlib). The tests run this file, so it
cannot rot.
"""

# %% Run the pipeline in memory: no store, the windows come back as a list and a DataFrame.
from __future__ import annotations

import argparse
import sys

import matplotlib

matplotlib.use("Agg")  # write files, never open a window (works on a server and in CI)
import matplotlib.pyplot as plt
import networkx as nx

import networkpulse as pulse
from networkpulse.settings import bundled_sources

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("source", nargs="?", default=bundled_sources()[0], help="GH Archive hour (.json.gz or .json)")
parser.add_argument("-o", "--output", default="largest_cluster.png", help="PNG to write")
args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])

run = pulse.run_files(args.source, window="10m", slide="1m")
frame = run.frame()  # one row per window: start/end as UTC timestamps, the counts as columns
print(frame[["start", "events", "interactions", "components", "largest", "clusters"]].head())

# %% The window where the largest cluster peaked, and that cluster as a networkx graph.
peak = frame.loc[frame["largest"].idxmax()]
graph = run.cluster_graph(int(peak["id"]), rank=0)  # nodes are logins; edges are real interactions
assert nx.is_connected(graph) and graph.number_of_nodes() == peak["largest"]
hubs = sorted(graph.degree, key=lambda pair: (-pair[1], pair[0]))[:3]
print(f"peak: {peak['largest']} accounts in the window starting {peak['start']:%H:%M} UTC; "
      f"best connected: {', '.join(f'{login} ({degree})' for login, degree in hubs)}")

# %% Plot the largest cluster over time, beside the number of clusters.
fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
ax.plot(frame["start"], frame["largest"], label="largest cluster (accounts)", color="tab:red")
ax.plot(frame["start"], frame["clusters"], label=f"clusters of ≥ {run.config.min_size} accounts", color="tab:blue")
ax.set_xlabel("window start (UTC)")
ax.set_title(f"{len(frame)} sliding windows of 10 min, every minute")
ax.legend(loc="upper left")
fig.savefig(args.output, dpi=100)
print(f"wrote {args.output}")
