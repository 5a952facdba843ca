"""Fuzz the text reader (.txt with Otter.ai detection, .md with front matter).

``python -m tests.fuzz.fuzz_text CORPUS [libFuzzer options]``
"""

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz("text")
