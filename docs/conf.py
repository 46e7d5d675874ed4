"""Sphinx configuration for the fakeusers documentation site.

Build it with ``python -m fakeusers docs`` (builds when stale, then serves it on
http://127.0.0.1:7000) or by hand, as CI does, with warnings as errors::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The site must build and read offline: no extension or theme option here may fetch anything
from the internet, at build time or in the reader's browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

# autodoc imports the real package (nothing is mocked): a module that does not import fails
# the build.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fakeusers  # noqa: E402

project = "fakeusers"
author = "the fakeusers team"
copyright = "the fakeusers team"
release = fakeusers.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# api/ holds the pages autosummary writes from reference.md at every build (git-ignored).
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []

# MyST: README sections are included into the guide pages; "colon_fence" allows ::: blocks.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# The API reference. The list of modules lives in reference.md; autosummary writes one page
# per module into api/ and autodoc documents each public name (a module's __all__).
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_mock_imports: list[str] = []

# numpydoc renders the docstrings. Class members are already documented by autodoc on the
# module's page; numpydoc's own member tables would document them twice.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Unresolvable cross-references (pandas.DataFrame, numpy arrays: no intersphinx, which would
# fetch inventories from the internet) are not errors.
nitpicky = False

html_theme = "pydata_sphinx_theme"
html_title = f"fakeusers {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    # Everything the theme links in the page is in the theme's own bundle; these keep the
    # footer and navbar free of links to other sites too.
    "icon_links": [],
    "external_links": [],
    "navbar_end": ["theme-switcher"],
    "footer_start": ["copyright"],
    "footer_center": [],
    "footer_end": [],
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 8,
}
html_sidebars = {"index": [], "architecture": []}
