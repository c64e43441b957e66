"""The site's own Sphinx directives: pages generated from the code, so that they never drift from it.

- ``glassnet-api MODULE``: the API reference of every name in ``MODULE.__all__`` (autodoc); each object is
  described once, on the first page of ``API_MODULES`` that lists it, and linked from the others. At the end
  of the build, a sub-package with an ``__all__`` and no page, or a public name without a docstring, is a
  warning (an error under ``-W``).
- ``glassnet-cli``: every command's ``--help``, from ``glassnet.cli.build_parser``.
- ``glassnet-gallery``: every picture of docs/gallery, with the code or command that made it.
- math rendered as MathML at build time (latex2mathml): no script, nothing fetched when a page is read.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"

API_MODULES = (
    "glassnet", "glassnet.datasets", "glassnet.datasets.mnist", "glassnet.data.images", "glassnet.decomposition",
    "glassnet.metrics", "glassnet.model", "glassnet.optim", "glassnet.train.runs", "glassnet.classic",
    "glassnet.plot", "glassnet.explain", "glassnet.sweep", "glassnet.parallel", "glassnet.sklearn", "glassnet.onnx",
    "glassnet.playground", "glassnet.playground.runs", "glassnet.train.checkpoint", "glassnet.onnx.importer",
    "glassnet.nn.augment", "glassnet.nn.noise", "glassnet.data.strokes",
)
"""Every page of the reference, in the order that decides where an object shared by several is described."""


# ----------------------------------------------------------------------------------------------- API reference
def public_names(module_name: str) -> list[str]:
    """``__all__`` of the module, or its public functions and classes defined there when it has none."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return sorted(n for n, v in vars(module).items() if not n.startswith("_") and getattr(v, "__module__", None)
                  == module_name and (inspect.isfunction(v) or inspect.isclass(v)))


def _home() -> dict[int, str]:
    """id(object) -> the module whose page describes it."""
    home: dict[int, str] = {}
    for m in API_MODULES:
        module = importlib.import_module(m)
        for name in public_names(m):
            obj = getattr(module, name)
            if not inspect.ismodule(obj):
                home.setdefault(id(obj), f"{m}.{name}")
    return home


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.ismethod(obj):
        return "function"
    if callable(obj) and not inspect.ismodule(obj):
        return "function"
    return "data"


class ApiDirective(Directive):
    """``.. glassnet-api:: glassnet.explain``: autodoc entries for every name of ``__all__``."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        name = self.arguments[0]
        module = importlib.import_module(name)
        if not hasattr(env, "glassnet_documented"):
            env.glassnet_documented = set()
        env.glassnet_documented.add(name)
        home = _home_cached()
        lines = [f".. currentmodule:: {name}", ""]
        elsewhere = []
        for attr in public_names(name):
            obj = getattr(module, attr)
            if inspect.ismodule(obj):
                target = obj.__name__
                elsewhere.append(f"- ``{name}.{attr}``: the module :mod:`{target}`")
                continue
            if not (inspect.getdoc(obj) or "").strip() and _kind(obj) != "data":
                logger.warning(f"{name}.{attr} has no docstring", location=(env.docname, self.lineno))
            canonical = home.get(id(obj), f"{name}.{attr}")
            if canonical != f"{name}.{attr}":
                role = {"class": "class", "exception": "exc", "function": "func"}.get(_kind(obj), "data")
                elsewhere.append(f"- ``{name}.{attr}``: the same as :{role}:`{canonical}`")
                continue
            kind = _kind(obj)
            if kind in ("class", "exception"):
                lines += [f".. auto{kind}:: {attr}", "   :members:", "   :show-inheritance:", ""]
            elif kind == "function":
                lines += [f".. autofunction:: {attr}", ""]
            else:
                lines += [f".. autodata:: {attr}", "   :no-value:", ""]
        if elsewhere:
            lines += ["", ".. rubric:: Described on another page", ""] + elsewhere + [""]
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=f"<glassnet-api {name}>"), container)
        return container.children


def check_coverage(app: Sphinx, env) -> None:
    """Warn for every module of glassnet with an ``__all__`` that no ``glassnet-api`` page describes."""
    import glassnet

    for info in pkgutil.walk_packages(glassnet.__path__, "glassnet."):
        if any(part.startswith("_") for part in info.name.split(".")) or ".commands" in info.name:
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError as e:
            logger.warning(f"{info.name} cannot be imported for the API reference: {e}")
            continue
        documented = getattr(env, "glassnet_documented", set())
        if hasattr(module, "__all__") and info.name not in documented and not _reexported(info.name):
            logger.warning(f"{info.name} has an __all__ but no page in the API reference (docs/api/)")


def _reexported(name: str) -> bool:
    """True when every name of the module's ``__all__`` is described through another page."""
    module = importlib.import_module(name)
    home = _home_cached()
    return all(id(getattr(module, n)) in home for n in module.__all__ if not inspect.ismodule(getattr(module, n)))


_HOME: dict[int, str] = {}


def _home_cached() -> dict[int, str]:
    if not _HOME:
        _HOME.update(_home())
    return _HOME


# ----------------------------------------------------------------------------------------------- command line
class CliDirective(Directive):
    """``.. glassnet-cli::``: a section per command with its ``--help``, from ``glassnet.cli.build_parser``."""

    def run(self) -> list[nodes.Node]:
        from glassnet.cli import build_parser

        os.environ["COLUMNS"] = "110"  # argparse wraps help to the terminal's width: one width for the site
        parser = build_parser()
        lines = [".. code-block:: text", ""] + ["   " + l for l in parser.format_help().splitlines()] + [""]
        for name, sub in _subcommands(parser):
            title = f"glassnet {name}"
            lines += [title, "-" * len(title), "", (sub.description or "").strip(), "", ".. code-block:: text", ""]
            lines += ["   " + l for l in sub.format_help().splitlines()] + [""]
            for _, subsub in _subcommands(sub):
                lines += [".. code-block:: text", ""] + ["   " + l for l in subsub.format_help().splitlines()]
                lines += [""]
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source="<glassnet-cli>"), container)
        return container.children


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out += list(action.choices.items())
    return out


# ----------------------------------------------------------------------------------------------- gallery
MADE_BY = {
    "explain_why.png": ("glassnet explain default.npz digit.png -o explain_why.png", "bash"),
    "explain_units.png": ("glassnet explain default.npz --units 0 -o explain_units.png", "bash"),
    "playground_digits.png": ("GLASSNET_SCREENSHOTS=docs/gallery pytest tests/playground/test_playground_browser.py",
                              "bash"),
    "playground_spiral.png": ("GLASSNET_SCREENSHOTS=docs/gallery pytest tests/playground/test_playground_browser.py",
                              "bash"),
    "playground_onnx.png": ("GLASSNET_SCREENSHOTS=docs/gallery pytest tests/playground/test_playground_onnx.py",
                            "bash"),
    "playground_runs.png": ("GLASSNET_SCREENSHOTS=docs/gallery pytest "
                            "tests/playground/test_playground_runs_browser.py", "bash"),
}
"""The pictures that examples/gallery.py does not draw, and the command that does."""


def gallery_entries() -> list[tuple[str, str, str, str]]:
    """(file name, caption, code, language) for every PNG of docs/gallery, in name order."""
    source = (ROOT / "examples" / "gallery.py").read_text(encoding="utf-8")
    doc = source.split('"""', 2)[1]
    captions = dict(re.findall(r"^\s+(\S+\.png)\s+(.+)$", doc, flags=re.M))
    body = source.split("def main(", 1)[1].split("\n\n")
    entries = []
    for png in sorted(p.name for p in GALLERY.glob("*.png")):
        paragraph = next((p for p in body if f'"{png}"' in p), None)
        if paragraph is not None:
            code = "\n".join(l[4:] if l.startswith("    ") else l for l in paragraph.strip("\n").splitlines())
            entries.append((png, captions.get(png, png), code, "python"))
        elif png in MADE_BY:
            entries.append((png, png.removesuffix(".png").replace("_", " "), *MADE_BY[png]))
        else:
            entries.append((png, png.removesuffix(".png").replace("_", " "), "", "text"))
    return entries


class GalleryDirective(Directive):
    """``.. glassnet-gallery::``: every picture of docs/gallery with the code that made it."""

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for png, caption, code, language in gallery_entries():
            title = png
            lines += [title, "-" * len(title), "", caption[0].upper() + caption[1:] + ".", "",
                      f".. image:: gallery/{png}", f"   :alt: {caption}", "   :width: 100%", ""]
            if code:
                lines += [f".. code-block:: {language}", ""] + ["   " + l for l in code.splitlines()] + [""]
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source="<glassnet-gallery>"), container)
        return container.children


# ----------------------------------------------------------------------------------------------- math
def _mathml(latex: str, display: str, node: nodes.Node) -> str:
    from latex2mathml.converter import convert

    try:
        mathml = convert(latex, display=display)
        unknown = set(re.findall(r">\\([A-Za-z]+)<", mathml))
        if unknown:  # operator names the converter does not know (\arg): written upright, as LaTeX does
            for name in unknown:
                latex = re.sub(rf"\\{name}(?![A-Za-z])", rf"\\operatorname{{{name}}}", latex)
            mathml = convert(latex, display=display)
        if "\\" in re.sub(r"<[^>]*>", "", mathml):
            raise ValueError("a command it does not know")
        return mathml
    except Exception as e:  # noqa: BLE001 - any failure of the converter is the page's error
        logger.warning(f"math not rendered ({e}): {latex!r}", location=node)
        return f"<code>{latex}</code>"


def visit_math(self, node: nodes.Node) -> None:
    self.body.append(f'<span class="math">{_mathml(node.astext(), "inline", node)}</span>')
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.Node) -> None:
    if node["nowrap"]:
        latex = node.astext()
    else:
        latex = "\\begin{aligned}" + node.astext() + "\\end{aligned}" if "\\\\" in node.astext() else node.astext()
    self.body.append(f'<div class="math">{_mathml(latex, "block", node)}</div>')
    raise nodes.SkipNode


def _import_dotted(target: str) -> object:
    """The object a dotted ``glassnet.`` path names, or None."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def resolve_alias(app: Sphinx, env, node: nodes.Node, contnode: nodes.Node) -> nodes.Node | None:
    """A reference to another public path of a described object (``glassnet.optim.SGD`` for ``glassnet.SGD``)
    resolves to where it is described; one to an existing module without a page is shown as text."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("glassnet"):
        return None
    obj = _import_dotted(target)
    if obj is None:
        return None
    if inspect.ismodule(obj):
        return contnode
    canonical = _home_cached().get(id(obj))
    if canonical is None or canonical == target:
        return None
    py = env.get_domain("py")
    return py.resolve_xref(env, node["refdoc"], app.builder, "obj", canonical, node, contnode)


def keep_public_bases(app: Sphinx, name: str, obj: object, options: dict, bases: list) -> None:
    """Base classes shown are those described here or outside glassnet: a private helper gives way to its
    nearest public ancestor."""
    home = _home_cached()
    shown: list = []
    for base in bases:
        public = next(c for c in base.__mro__ if not c.__module__.startswith("glassnet") or id(c) in home)
        if public not in shown:
            shown.append(public)
    bases[:] = shown


def check_docstring(app: Sphinx, what: str, name: str, obj: object, options: dict, lines: list[str]) -> None:
    """A public object or method shown without any docstring (its own or inherited) is a warning."""
    if what in ("class", "exception", "function", "method", "property") and not any(l.strip() for l in lines):
        if not name.rsplit(".", 1)[-1].startswith("_"):
            logger.warning(f"{name} has no docstring", type="glassnet", subtype="docstring")


def skip_member(app: Sphinx, what: str, name: str, obj: object, skip: bool, options: dict) -> bool | None:
    """scikit-learn's generated ``set_*_request`` methods are its own; they are not glassnet's API."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app: Sphinx) -> dict:
    directives.register_directive("glassnet-api", ApiDirective)
    directives.register_directive("glassnet-cli", CliDirective)
    directives.register_directive("glassnet-gallery", GalleryDirective)
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    app.connect("env-check-consistency", check_coverage)
    app.connect("missing-reference", resolve_alias)
    app.connect("autodoc-process-bases", keep_public_bases)
    app.connect("autodoc-process-docstring", check_docstring)
    app.connect("autodoc-skip-member", skip_member)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
