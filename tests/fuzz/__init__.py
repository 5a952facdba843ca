"""Coverage-guided fuzzing (atheris) of the text, caption and XML readers.

``targets.py`` holds what every input must satisfy (plain functions, replayed by
``tests/test_fuzz.py`` on ``regressions/``); ``fuzz_<reader>.py`` runs one target under atheris
and libFuzzer::

    python -m tests.fuzz.fuzz_vtt CORPUS_DIR -max_total_time=60 -dict=tests/fuzz/dicts/vtt.dict

``tests/test_fuzz.py`` runs each harness for a bounded time on a copy of its seed corpus.
"""
