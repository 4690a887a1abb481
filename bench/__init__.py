"""Benchmark of the project against the pipeline most users write by hand with LangChain.

Run ``python -m bench.run`` (or ``make bench``); ``python -m bench.run --smoke`` is the tiny
run CI does. See ``bench/run.py`` for what is measured and how.
"""
