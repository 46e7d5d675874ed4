"""``python -m fakeusers``: the command line (:mod:`fakeusers.cli`)."""

import sys

from fakeusers.cli import main

if __name__ == "__main__":
    sys.exit(main())
