"""Benchmarks, run by hand as modules (`python -m bench.NAME`); see bench/README.md."""
