"""Fuzz the REFI-QDA codebook (.qdc) XML reader.

``python -m tests.fuzz.fuzz_qdc CORPUS [libFuzzer options]``
"""

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz("qdc")
