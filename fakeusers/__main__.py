"""``python -m fakeusers``: the command line (:mod:`fakeusers.cli`)."""

import contextlib
import os
import sys

from fakeusers.cli import main

if __name__ == "__main__":
    code = main()
    # The command is done and has closed its files. Python's teardown of the modules it
    # loaded (scikit-learn, SciPy, pandas) takes about 0.4 s and only delays the exit
    # (benchmarks/README.md, "Scoring speed"): write what is buffered, then leave.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(ValueError, OSError):
            stream.flush()
    os._exit(code or 0)
