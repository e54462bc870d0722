"""Sphinx configuration of the skhash documentation (``make docs``)."""

import importlib.util
import inspect
import os
import re
import shutil
import sys
from pathlib import Path

import matplotlib
import sklearn.base as _sklearn_base

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))

from inventories import write_inventories  # noqa: E402

import skhash  # noqa: E402

project = "skhash"
author = "skhash developers"
copyright = "skhash developers, BSD-3-Clause"
release = skhash.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_nb",  # Markdown pages (MyST) and the notebook, executed at build time
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "_generated",
    "_ext",
    "auto_examples/*.ipynb",
    "**.ipynb_checkpoints",
]
templates_path = ["_templates"]

# -- API reference -------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections say it, in words
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
# Parameter types link to the libraries' docs (unknown words stay plain text).
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "DataFrame": "pandas.DataFrame",
    "pandas.DataFrame": "pandas.DataFrame",
    "Figure": "matplotlib.figure.Figure",
    "matplotlib.figure.Figure": "matplotlib.figure.Figure",
    "Axes": "matplotlib.axes.Axes",
    "RandomState": "numpy.random.RandomState",
    "Bunch": "sklearn.utils.Bunch",
    "Module": "torch.nn.Module",
    "torch.nn.Module": "torch.nn.Module",
    "Dataset": "torch.utils.data.Dataset",
    "Generator": "torch.Generator",
    "Tensor": "torch.Tensor",
    "HammingIndex": "skhash.index.HammingIndex",
    "RetrievalProtocol": "skhash.compare.RetrievalProtocol",
    "ComparisonResult": "skhash.compare.ComparisonResult",
    "Timing": "skhash.utils.timing.Timing",
}
numpydoc_xref_ignore = {
    "of", "or", "and", "shape", "default", "optional", "instance", "to", "str", "int",
    "float", "bool", "None", "dict", "list", "tuple", "callable", "object", "iterable",
    "sequence", "array-like", "path-like", "dtype", "n_samples", "n_features", "n_bits",
    "n_queries", "n_database", "n_classes", "n_words", "n_k", "n", "C", "H", "W", "k",
    "int32", "uint8", "uint64", "bool_", "sparse", "matrix", "mapping", "generator",
    "estimator", "hasher", "fitted", "unfitted", "same", "as", "the", "a", "an", "in",
}  # fmt: skip


def _deep_classes():
    """Deep hashers and the other public classes of skhash.deep, by name (needs torch)."""
    if importlib.util.find_spec("torch") is None:
        return {}, {}
    import skhash.deep as deep

    hashers, helpers = {}, {}
    for name in deep.__all__:
        try:
            obj = getattr(deep, name)
        except (ImportError, AttributeError):
            continue
        if name == "BaseDeepHasher" or not inspect.isclass(obj):
            continue
        (hashers if issubclass(obj, deep.BaseDeepHasher) else helpers)[name] = obj
    return hashers, helpers


# api.rst includes these lists, so the reference shows the deep classes that exist. Their
# stub pages are written here: autosummary does not generate stubs for included files.
_generated = HERE / "_generated"
_generated.mkdir(exist_ok=True)
_stubs = HERE / "generated"
_stubs.mkdir(exist_ok=True)
_class_template = (HERE / "_templates" / "class.rst").read_text()
_deep_hashers, _deep_helpers = _deep_classes()


def _write_stubs(module, classes, template):
    """Stub pages from the autosummary class template. The template's conditional block
    (scikit-learn's shared get_params/set_params) stays for estimators only; torch modules
    and datasets document their own members, not the hundred torch gives them."""
    for name, obj in classes.items():
        title = f"{module}.{name}"
        stub = template.replace(
            "{{ fullname | escape | underline }}", f"{title}\n{'=' * len(title)}"
        )
        stub = stub.replace("{{ module }}", module).replace("{{ objname }}", name)
        keep = r"\1" if hasattr(obj, "get_params") else ""
        stub = re.sub(r"{% if [^%]*%}(.*?){% endif %}\n", keep, stub, flags=re.S)
        if not issubclass(obj, _sklearn_base.BaseEstimator):
            stub = stub.replace("   :inherited-members:\n", "   :no-inherited-members:\n")
        (_stubs / f"{module}.{name}.rst").write_text(stub)


def _autosummary(module, names):
    return (
        f".. currentmodule:: {module}\n\n.. autosummary::\n   :toctree: generated/\n\n"
        + "".join(f"   {name}\n" for name in names)
    )


if _deep_hashers:
    _write_stubs("skhash", _deep_hashers, _class_template)
    _write_stubs("skhash.deep", _deep_helpers, _class_template)
    (_generated / "api_deep.rst").write_text(_autosummary("skhash", _deep_hashers))
    (_generated / "api_deep_helpers.rst").write_text(
        "Training helpers, networks and data sets of the deep hashers (``callbacks=[...]``, "
        "``augmentation=...``, ``backbone=...``):\n\n"
        + _autosummary("skhash.deep", _deep_helpers)
        + "\n.. currentmodule:: skhash\n"
    )
else:
    _no_torch = "The deep hashers need torch: ``pip install 'skhash[deep]'``.\n"
    (_generated / "api_deep.rst").write_text(_no_torch)
    (_generated / "api_deep_helpers.rst").write_text("")

# The notebook lives with the examples; the site shows it executed (myst-nb).
_notebooks = HERE / "notebooks"
_notebooks.mkdir(exist_ok=True)
shutil.copyfile(
    HERE.parent / "examples" / "notebooks" / "quickstart.ipynb", _notebooks / "quickstart.ipynb"
)
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_merge_streams = True
nb_output_stderr = "remove"  # progress bars and warnings: noise on a static page

# -- links to other projects' docs ---------------------------------------------------------
# Build machines have no internet: links to scikit-learn, numpy, pandas, matplotlib and
# PyTorch go through inventories written here from the installed packages (docs/_ext);
# SKHASH_DOCS_OFFLINE=0 fetches the projects' own inventories instead.
_urls = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "sklearn": "https://scikit-learn.org/stable",
    "pandas": "https://pandas.pydata.org/docs",
    "matplotlib": "https://matplotlib.org/stable",
    "torch": "https://docs.pytorch.org/docs/stable",
}
if os.environ.get("SKHASH_DOCS_OFFLINE", "1") == "1":
    _local = write_inventories(_generated / "inventories", HERE.parent)
    intersphinx_mapping = {
        name: (url, str(_local[name])) for name, url in _urls.items() if name in _local
    }
else:
    intersphinx_mapping = {name: (url, None) for name, url in _urls.items()}

# -- gallery -------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"notebooks",
    "download_all_examples": False,
    "remove_config_comments": True,
    # The quick start first, then the others by title.
    "within_subsection_order": "gallery_order.QuickstartFirst",
    "matplotlib_animations": False,
    "backreferences_dir": None,
}

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skhash {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    # The right-hand "on this page" column only on prose pages; pages with wide code, output,
    # tables or signatures (API, examples, benchmarks, comparing) get its width instead.
    "secondary_sidebar_items": {
        page: ["page-toc"]
        for page in (
            "install",
            "architecture",
            "user_guide/hamming_search",
            "user_guide/which_method",
            "user_guide/bits",
            "user_guide/pretrained",
            "user_guide/evaluation",
        )
    },
}
# Pages outside a section have nothing for the left "Section Navigation" column but its
# title: drop it there, so that their code blocks get the width instead of scrolling.
html_sidebars = {page: [] for page in ("index", "install", "architecture", "benchmarks")}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["myst.header"]
