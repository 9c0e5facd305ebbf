"""Benchmarks of pm side by side with PM2, supervisord and circus: `python benchmarks/run.py`."""
