"""Benchmarks, kept apart from tests: run each as `python -m bench.<name>`."""
