"""Benchmarks of ddpm-desktop and their report: `python -m bench.run` (see bench/README.md)."""
