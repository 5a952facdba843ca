"""Fuzz the SubRip caption reader: ``python -m tests.fuzz.fuzz_srt CORPUS [libFuzzer options]``."""

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz("srt")
