"""Run ChannelAttribution (PyPI) on journeys P360 wrote, for comparison.

Usage: channel_attribution_check.py PATHS_CSV
PATHS_CSV: `path;total_conversions;total_null`, paths as `C1>C2>C3`.
Prints JSON: per channel the heuristic models' conversions and the Markov
model's removal effects and attributed conversions, and the seconds the
Markov model took.
"""
import contextlib
import io
import json
import sys
import time

import pandas as pd

# The package prints a banner when imported, and progress while it works.
with contextlib.redirect_stdout(io.StringIO()):
    from ChannelAttribution import heuristic_models, markov_model

data = pd.read_csv(sys.argv[1], sep=";")
with contextlib.redirect_stdout(io.StringIO()):
    h = heuristic_models(data, "path", "total_conversions", flg_pro=False)
    start = time.perf_counter()
    m = markov_model(
        data,
        "path",
        "total_conversions",
        var_null="total_null",
        out_more=True,
        seed=1,
        ncore=1,
        verbose=False,
        flg_pro=False,
    )
    markov_secs = time.perf_counter() - start
out = {"heuristic": {}, "removal_effect": {}, "markov_conversions": {}, "markov_secs": markov_secs}
for _, row in h.iterrows():
    out["heuristic"][row["channel_name"]] = {
        "first_touch": float(row["first_touch"]),
        "last_touch": float(row["last_touch"]),
        "linear": float(row["linear_touch"]),
    }
for _, row in m["removal_effects"].iterrows():
    out["removal_effect"][row["channel_name"]] = float(row["removal_effect"])
for _, row in m["result"].iterrows():
    out["markov_conversions"][row["channel_name"]] = float(row["total_conversions"])
print(json.dumps(out))
