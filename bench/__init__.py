"""The benchmark of ``user-import run`` against PostgreSQL's own floors: run it as
``python bench/benchmark.py`` (its docstring says what it measures)."""
