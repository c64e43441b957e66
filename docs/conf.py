"""Sphinx configuration of glassnet's site: ``tools/build-docs`` builds it into docs/_build/html, offline."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent / "src")]

import glassnet  # noqa: E402

project = "glassnet"
author = "the glassnet authors"
copyright = "the glassnet authors, MIT licence"
release = version = glassnet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_nb",
    "glassnet_docs",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_ext"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# Every reference must resolve (a broken one fails the build under -W); names outside glassnet are plain text.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|npt|collections|typing|pathlib|os|socket|threading|concurrent|argparse|io|types|enum"
               r"|dataclasses|abc|starlette|uvicorn|onnx|onnxruntime|sklearn|dask|distributed|matplotlib|torch|PIL)(\..*)?"),
    (r"py:.*", r"(int|float|str|bool|bytes|dict|list|tuple|set|object|None|callable|Callable|Sequence|Mapping"
               r"|Iterable|Iterator|Any|Path|ndarray|array_like|array-like|optional|default|Executor|Future"
               r"|ArrayLike|NDArray|DTypeLike|Generator|Self|T|Figure|Axes|Sequential|PlaygroundServer"
               r"|GradcheckResult)"),
    (r"py:.*", r"glassnet\._base\..*|glassnet(\.\w+)*\._\w+(\.\w+)*"),  # private helpers in type hints
]

# API reference: autodoc reads the docstrings, numpydoc their sections (the project's one convention).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}
autodoc_inherit_docstrings = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Markdown pages and the tutorials: the notebooks are shown with the outputs committed, never executed here.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_merge_streams = True
suppress_warnings = ["mystnb.unknown_mime_type"]

# HTML: pydata-sphinx-theme with nothing fetched at view time (fonts, icons and scripts ship with the site;
# the math is MathML written at build time, see _ext/glassnet_docs.py).
html_theme = "pydata_sphinx_theme"
html_title = f"glassnet {release}"
html_math_renderer = "mathml"
html_static_path = ["_static"]
html_css_files = ["glassnet.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "icon_links": [],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"], "index": []}
