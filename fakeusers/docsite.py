"""The documentation site: build it with Sphinx, serve it on this machine.

The sources are ``docs/`` in the source checkout (``docs/conf.py`` says what the site holds);
the site is built into ``docs/_build/html``. Building imports Sphinx only when it is asked
for, so the rest of the package never needs it. The site uses nothing from the internet, at
build time or in the reader's browser.

Examples
--------
>>> from fakeusers import docsite
>>> docsite.build()  # doctest: +SKIP
PosixPath('.../docs/_build/html')
>>> docsite.serve(7000)  # doctest: +SKIP
Documentation at http://127.0.0.1:7000/ (Ctrl+C stops it)
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import tempfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fakeusers.errors import FakeusersError

__all__ = ["DEFAULT_OUTPUT", "DOCS_DIR", "build", "needs_build", "serve"]

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs"
DEFAULT_OUTPUT = DOCS_DIR / "_build" / "html"

_INSTALL = "pip install -r requirements.txt"
# Sphinx writes pages even when a warning fails the build, so index.html alone does not say
# the site is whole: this file is written only after a build that passed.
_STAMP = ".fakeusers-build-ok"
_REQUIRED = {
    "sphinx": "Sphinx",
    "numpydoc": "numpydoc",
    "myst_parser": "myst-parser",
    "pydata_sphinx_theme": "pydata-sphinx-theme",
}
# Folders under docs/ that a build writes: autosummary's pages (api/) and the site itself.
_GENERATED = {"_build", "api"}
_SHOWN_WARNINGS = 10


def _sources() -> Iterator[Path]:
    """Yield every file the site is built from: docs/, the README it includes, the package."""
    for path in DOCS_DIR.rglob("*"):
        relative = path.relative_to(DOCS_DIR)
        if path.is_file() and relative.parts[0] not in _GENERATED:
            yield path
    yield from (ROOT / "fakeusers").rglob("*.py")
    readme = ROOT / "README.md"
    if readme.is_file():
        yield readme


def needs_build(output: Path | None = None) -> bool:
    """Say whether the site in `output` is missing, failed or older than its sources.

    Parameters
    ----------
    output : Path, optional
        The folder of the built site; ``docs/_build/html`` when omitted.

    Returns
    -------
    bool
        True when there is no site that passed its build, or when a source (a file in
        ``docs/``, ``README.md`` or a module of ``fakeusers``) changed after that build.
    """
    output = DEFAULT_OUTPUT if output is None else Path(output)
    stamp = output / _STAMP
    if not (output / "index.html").is_file() or not stamp.is_file():
        return True
    built = stamp.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _sources())


def _check_installed() -> None:
    missing = [
        dist for module, dist in _REQUIRED.items() if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise FakeusersError(
            f"The documentation site needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed. "
            f"Install the pinned versions with: {_INSTALL}"
        )
    if not (DOCS_DIR / "conf.py").is_file():
        raise FakeusersError(
            f"The documentation sources are not here ({DOCS_DIR / 'conf.py'} is missing). "
            "Build the site from a source checkout of fakeusers."
        )


def build(output: Path | None = None) -> Path:
    """Build the HTML site with Sphinx, treating every warning as an error.

    Parameters
    ----------
    output : Path, optional
        The folder to write the site to; ``docs/_build/html`` when omitted. Sphinx keeps
        its cache beside the pages, so building again into the same folder only redoes what
        changed.

    Returns
    -------
    Path
        The folder of the built site; its ``index.html`` is the home page.

    Raises
    ------
    FakeusersError
        When Sphinx or one of its extensions is not installed (the message gives the pip
        command), or when the build fails or warns (the message quotes the warnings).
    """
    _check_installed()
    from sphinx.cmd.build import build_main

    output = (DEFAULT_OUTPUT if output is None else Path(output)).resolve()
    doctrees = (
        DOCS_DIR / "_build" / "doctrees" if output == DEFAULT_OUTPUT else output / ".doctrees"
    )
    stamp = output / _STAMP
    stamp.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="fakeusers-docs-") as scratch:
        warnings_file = Path(scratch) / "warnings.txt"
        status = build_main(
            [
                "-W",
                "--keep-going",
                "-b",
                "html",
                "-q",
                "-d",
                str(doctrees),
                "-w",
                str(warnings_file),
                str(DOCS_DIR),
                str(output),
            ]
        )
        warnings = warnings_file.read_text(encoding="utf-8").splitlines() if status else []
    if status:
        shown = "\n".join(warnings[:_SHOWN_WARNINGS])
        more = len(warnings) - _SHOWN_WARNINGS
        if more > 0:
            shown += f"\n... and {more} more"
        raise FakeusersError(
            f"The documentation site did not build (Sphinx exit status {status}); every "
            "warning counts as an error. Fix these in docs/ or in the docstrings they name:\n"
            + (shown or "(Sphinx gave no warning: see the messages above)")
        )
    stamp.touch()
    return output


def serve(port: int = 7000, host: str = "127.0.0.1", output: Path | None = None) -> None:
    """Serve the documentation site over HTTP until interrupted, building it first if needed.

    The site is built when it is missing or older than its sources (see `needs_build`).
    The URL is printed once the server listens; Ctrl+C stops it.

    Parameters
    ----------
    port : int, default 7000
        The TCP port; 0 picks a free one (the printed URL names it).
    host : str, default "127.0.0.1"
        The address to listen on: this machine only, unless another address is given.
    output : Path, optional
        The folder of the site; ``docs/_build/html`` when omitted.

    Raises
    ------
    FakeusersError
        When the site cannot be built (see `build`), or the address cannot be listened on
        (a port that is taken, for instance).
    """
    output = DEFAULT_OUTPUT if output is None else Path(output)
    if needs_build(output):
        print(f"Building the documentation site into {output} ...", file=sys.stderr, flush=True)
        build(output)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(output))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except (OSError, OverflowError) as exc:
        reason = (getattr(exc, "strerror", None) or str(exc)).rstrip(".")
        raise FakeusersError(
            f"Cannot serve the documentation on {host}:{port}: {reason}. "
            "Choose another port with --port."
        ) from exc
    bound_port = server.server_address[1]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"Documentation at http://{shown_host}:{bound_port}/ (Ctrl+C stops it)", flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.", flush=True)
