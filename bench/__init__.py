"""The benchmark harness (bench/run.py) and its bench-only settings, URLs and views."""
