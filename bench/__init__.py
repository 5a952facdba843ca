"""Benchmarks of qcode: a transcript generator for scale tests and timing scripts."""
