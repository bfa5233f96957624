"""Asman's benchmark suite: `make bench` (or `BENCH_QUICK=1 make bench`). See docs/benchmarks.md."""
