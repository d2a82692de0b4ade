"""Evaluation: full-song streaming simulation over a test split, metrics, reference rows, reports, plots.

`python -m jaxaccomp.eval --help` runs it. Modules, one job each: `metrics` (the metric interface and
registry), `beats`, `frechet`, `loudness` (the metric back ends), `paper` (the refused paper metrics),
`clips` (what is scored: regimes, model clips and reference rows), `runner` (per-clip work, cached and
resumable), `report` (aggregation, JSON/CSV), `plots`, `cli`.
"""
