"""Datasets: Slakh2100 reading, offline rendering, training pipelines."""
