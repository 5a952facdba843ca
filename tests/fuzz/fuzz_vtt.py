"""Fuzz the WebVTT caption reader: ``python -m tests.fuzz.fuzz_vtt CORPUS [libFuzzer options]``."""

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz("vtt")
