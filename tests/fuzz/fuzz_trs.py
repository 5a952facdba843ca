"""Fuzz the Transcriber XML reader: ``python -m tests.fuzz.fuzz_trs CORPUS [libFuzzer options]``."""

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz("trs")
