"""The documentation site builds without a warning, reads offline and is served locally."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fakeusers import docsite
from fakeusers.errors import FakeusersError

ROOT = Path(__file__).resolve().parent.parent

# Sphinx runs in this process; its extensions still use Sphinx APIs that Sphinx announces it
# will remove. Those warnings are theirs to fix, not ours.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:.*Check CHANGES for Sphinx API modifications:PendingDeprecationWarning"
    ),
    pytest.mark.filterwarnings(
        "ignore:.*Check CHANGES for Sphinx API modifications:DeprecationWarning"
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One build for the whole module: it imports every documented module and takes seconds.
    return docsite.build(tmp_path_factory.mktemp("site") / "html")


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))


def _reference_modules() -> list[str]:
    source = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    return re.findall(r"^\s+(fakeusers\.\w+)\s*$", source, flags=re.MULTILINE)


class _RemoteAssets(HTMLParser):
    """Collect the scripts and stylesheets a page would load from another site."""

    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            url = values.get("src")
        elif tag == "link" and "stylesheet" in (values.get("rel") or "").split():
            url = values.get("href")
        else:
            return
        if url and re.match(r"(https?:)?//", url):
            self.remote.append(url)


def test_architecture_page_draws_how_a_log_becomes_a_decision(site: Path) -> None:
    page = site / "architecture.html"
    text = _text(page)
    for words in ("scoring.score_log", "fakeusers.reading", "fakeusers.store", "out-of-fold"):
        assert words in text
    assert "architecture.svg" in page.read_text(encoding="utf-8")
    diagram = (site / "_static" / "architecture.svg").read_text(encoding="utf-8")
    for module in ("reading.py", "scoring.py", "store.py", "features.py", "decisions.py"):
        assert module in diagram


def test_reference_documents_every_listed_module_from_its_docstrings(site: Path) -> None:
    modules = _reference_modules()
    assert "fakeusers.store" in modules and "fakeusers.reading" in modules
    reference = _text(site / "reference.html")
    for module in modules:
        assert module in reference
        assert (site / "api" / f"{module}.html").is_file(), module
    store = _text(site / "api" / "fakeusers.store.html")
    assert "ModelStore" in store
    assert "FakeusersError" in _text(site / "api" / "fakeusers.errors.html")
    assert not list(site.glob("api/fakeusers.__main__*")) and not list(
        site.glob("api/fakeusers.cli*")
    )


def test_guide_pages_carry_the_readme_and_the_bad_input_table(site: Path) -> None:
    assert "Load demo data" in _text(site / "dashboard.html")
    assert "--cost-fp" in _text(site / "command-line.html")
    assert "/predict" in _text(site / "rest-api.html")
    assert "empty.csv" in _text(site / "bad-inputs.html")
    assert (site / "_images" / "home.png").is_file()
    home = site / "index.html"
    for page in ("dashboard.html", "architecture.html", "reference.html"):
        assert f'href="{page}"' in home.read_text(encoding="utf-8")


def test_site_loads_no_script_or_stylesheet_from_another_site(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        parser = _RemoteAssets()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.remote == [], page.name
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert not re.search(r"""(@import|url\()\s*["']?(https?:)?//""", text), css.name


def test_a_built_site_is_fresh_and_a_missing_one_needs_building(site: Path, tmp_path: Path) -> None:
    assert not docsite.needs_build(site)
    assert docsite.needs_build(tmp_path)


def test_build_without_sphinx_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = docsite.importlib.util.find_spec
    monkeypatch.setattr(
        docsite.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "sphinx" else real(name, *args),
    )
    with pytest.raises(FakeusersError, match=r"needs Sphinx.*pip install -r requirements.txt"):
        docsite.build()


def test_a_warning_fails_the_build_and_is_quoted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text('extensions = ["myst_parser"]\n', encoding="utf-8")
    (docs / "index.md").write_text("# Home\n\n[broken](no-such-page.md)\n", encoding="utf-8")
    monkeypatch.setattr(docsite, "DOCS_DIR", docs)
    out = tmp_path / "html"
    with pytest.raises(FakeusersError, match=r"did not build(.|\n)*no-such-page"):
        docsite.build(out)
    assert docsite.needs_build(out)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, deadline: float) -> tuple[int, str]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode("utf-8")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_answers_on_loopback(site: Path) -> None:
    port = _free_port()
    code = (
        "from pathlib import Path; from fakeusers.docsite import serve; "
        f"serve({port}, output=Path({str(site)!r}))"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status, home = _get(f"http://127.0.0.1:{port}/", deadline)
        assert status == 200
        assert "fakeusers" in home and "Quick start" in home
        status, architecture = _get(f"http://127.0.0.1:{port}/architecture.html", deadline)
        assert status == 200
        assert "scoring" in architecture
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in output
