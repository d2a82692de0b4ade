"""Evaluation: full-song streaming simulation over a test split, metrics, reference rows, reports, plots.

`python -m jaxaccomp.eval --help` runs it. Modules, one job each: `metrics` (the metric interface and
registry), `beats`, `frechet`, `loudness`, `coherence`, `follow` (the metric back ends; `follow` also
scores `make demo`), `paper` (the paper's metrics, from weights the user brings), `clips` (what is
scored: regimes, model clips and reference rows), `runner` (per-clip work, cached and resumable),
`report` (aggregation, JSON/CSV), `plots`, `cli`.
"""
