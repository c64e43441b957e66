"""The documentation site: built once per session with warnings as errors (tools/build-docs' settings), every
internal link of the built pages resolved, nothing fetched from elsewhere, the docstring examples run as
doctests, and the README's examples the same as the site's.

``GLASSNET_SCREENSHOTS=DIR`` keeps the screenshots of the home page, an API page and a tutorial page."""

import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import IN_CI, need

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _sphinx_build(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-q",
                           "-d", str(out / ".doctrees"), str(src), str(out / "html"), *extra],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site, built once: any warning (a broken reference, a page outside every toctree, a public name
    without a docstring or without a page, math that does not convert) fails the build."""
    for module in ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_nb", "latex2mathml"):
        need(module, "docs")
    out = tmp_path_factory.mktemp("site")
    run = _sphinx_build(DOCS, out)
    if run.returncode != 0:
        pytest.fail(f"the site does not build cleanly:\n{run.stderr[-6000:]}", pytrace=False)
    return out / "html"


def test_the_site_has_every_part(site):
    for page in ("index", "getting-started", "guide/index", "guide/cli-reference", "tutorials/index", "gallery",
                 "api/index", "api/glassnet", "benchmarks", "design"):
        assert (site / f"{page}.html").is_file(), page
    tutorials = sorted(p.stem for p in (DOCS / "tutorials").glob("[0-9]*.ipynb"))
    assert tutorials and all((site / "tutorials" / f"{t}.html").is_file() for t in tutorials)
    assert (site / "searchindex.js").is_file()


class _Links(HTMLParser):
    """Every id and every href/src of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if name in ("href", "src") and value is not None:
                self.links.append((tag, name, value))


def _pages(site: Path) -> list[Path]:
    """The site's pages (not the theme's template fragments copied into _static)."""
    return [p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts]


def _parse(page: Path) -> _Links:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def test_every_internal_link_resolves(site):
    pages = {p: _parse(p) for p in _pages(site)}
    broken = []
    for page, parsed in pages.items():
        for _, _, link in parsed.links:
            url = urlsplit(link)
            if url.scheme or link.startswith("//") or link.startswith("#") and not link[1:]:
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    assert len(pages) > 40
    assert not broken, "\n".join(broken[:30])


def test_nothing_is_fetched_from_elsewhere(site):
    """No script, style sheet, font or picture from another host: the site works from a folder, offline."""
    fetched = []
    for page in _pages(site):
        for tag, attr, link in _parse(page).links:
            remote = urlsplit(link).scheme in ("http", "https") or link.startswith("//")
            if remote and (attr == "src" or tag == "link"):
                fetched.append(f"{page.relative_to(site)}: <{tag} {attr}={link}>")
    for css in site.rglob("*.css"):
        fetched += [f"{css.relative_to(site)}: {u}" for u in re.findall(r"url\(\s*['\"]?(https?:[^)'\"]+)",
                                                                        css.read_text(errors="replace"))]
    assert not fetched, "\n".join(fetched[:30])


def test_every_public_name_is_in_the_reference(site):
    """Each name of ``__all__`` of glassnet and of each documented sub-package has its entry (an id on a page)."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import glassnet_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    ids = set().union(*(_parse(p).ids for p in (site / "api").glob("*.html")))
    home = glassnet_docs._home_cached()
    absent = []
    for module_name in glassnet_docs.API_MODULES:
        module = importlib.import_module(module_name)
        for name in glassnet_docs.public_names(module_name):
            obj = getattr(module, name)
            if not isinstance(obj, type(sys)) and home[id(obj)] not in ids:
                absent.append(f"{module_name}.{name}")
    assert not absent, absent
    assert "glassnet.Dense" in ids and "glassnet.explain.integrated_gradients" in ids


def test_the_math_is_mathml_and_the_command_line_is_generated(site):
    dense = (site / "api" / "glassnet.html").read_text(encoding="utf-8")
    assert "<math" in dense and "mathjax" not in dense.lower()
    cli = (site / "guide" / "cli-reference.html").read_text(encoding="utf-8")
    from glassnet.cli import COMMANDS
    for command in COMMANDS:
        assert f"glassnet {command}" in cli
    assert "--preset" in cli and "--grid" in cli


def test_the_gallery_shows_every_picture(site):
    gallery = (site / "gallery.html").read_text(encoding="utf-8")
    for png in (DOCS / "gallery").glob("*.png"):
        assert png.name in gallery, png.name
    assert "decision_boundary" in gallery and "save" in gallery  # the code that drew it, from examples/gallery.py


def test_a_broken_reference_a_missing_page_and_an_undocumented_name_fail_the_build(tmp_path):
    """The same checks on a page that has each fault: the build fails and names all three."""
    need("sphinx", "docs")
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "fake_api.py").write_text('__all__ = ["undocumented"]\n\n\ndef undocumented():\n    pass\n')
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(DOCS / '_ext')!r}, {str(tmp_path)!r}]\n"
        'extensions = ["sphinx.ext.autodoc", "glassnet_docs"]\nnitpicky = True\n'
        'html_math_renderer = "mathml"\n')
    (src / "index.rst").write_text(
        "Home\n====\n\nSee :func:`glassnet.no_such_function`.\n\n.. toctree::\n\n   no-such-page\n\n"
        ".. glassnet-api:: fake_api\n")
    run = _sphinx_build(src, tmp_path / "out")
    assert run.returncode != 0
    assert "glassnet.no_such_function" in run.stderr
    assert "no-such-page" in run.stderr
    assert "fake_api.undocumented has no docstring" in run.stderr


# ----------------------------------------------------------------------------------------------- doctests
def _modules() -> list[str]:
    import glassnet

    return ["glassnet"] + sorted(i.name for i in pkgutil.walk_packages(glassnet.__path__, "glassnet.")
                                 if "._" not in i.name)


PACKAGE = str(Path(importlib.import_module("glassnet").__file__).parent)


def test_docstring_examples_run():
    """Every ``>>>`` example in glassnet's docstrings runs and prints what it says (numpydoc Examples)."""
    finder, runner = doctest.DocTestFinder(exclude_empty=True), doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran, unimportable = 0, []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            unimportable.append(f"{name}: {e}")
            continue
        for test in finder.find(module, name):
            if test.examples and (test.filename or "").startswith(PACKAGE):  # installed or in src/
                runner.run(test)
                ran += len(test.examples)
    if unimportable:
        (pytest.fail if IN_CI else print)(f"not imported (extras missing): {unimportable}")
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring examples failed (see the output above)"
    assert ran >= 20, ran


# ----------------------------------------------------------------------------------------------- README
def test_the_readme_is_short_and_its_examples_are_the_sites():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    site_text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    assert len(blocks) >= 4
    for block in blocks:
        assert block in site_text, f"a README example is not on the site as written:\n{block[:300]}"
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


# ----------------------------------------------------------------------------------------------- in a browser
def test_the_pages_in_chromium_offline(site, browser, tmp_path):
    """The home page, an API page and a tutorial page from the folder: nothing requested outside it, and the
    search answers from the folder."""
    shots = Path(os.environ.get("GLASSNET_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    tutorial = sorted((site / "tutorials").glob("0*.html"))[-1]
    requested: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_default_timeout(15_000)
        page.on("request", lambda r: requested.append(r.url))
        for name, path in (("docs_home", site / "index.html"), ("docs_api", site / "api" / "glassnet.html"),
                           ("docs_tutorial", tutorial)):
            page.goto(path.as_uri(), wait_until="load", timeout=15_000)
            assert page.locator("h1").first.is_visible()
            page.screenshot(path=str(shots / f"{name}.png"))
        page.goto((site / "search.html").as_uri() + "?q=Dense", wait_until="load", timeout=15_000)
        page.wait_for_selector("#search-results li", timeout=15_000)
        assert page.locator("#search-results li").count() >= 1
    finally:
        page.close()
    elsewhere = [u for u in requested if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert not elsewhere, elsewhere
