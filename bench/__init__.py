"""Benchmarks of harvester (not part of the package; run from the repository root)."""
