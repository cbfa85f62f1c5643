"""Public test inputs nobody here wrote (read-only copies in fixtures/corpora/; each
folder keeps its upstream license): JSONTestSuite, the big list of naughty strings and
two sets of e-mail address vectors. See fixtures/corpora/README.md."""

from pathlib import Path

CORPORA = Path(__file__).resolve().parent / "fixtures" / "corpora"
