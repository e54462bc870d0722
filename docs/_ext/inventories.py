"""Intersphinx inventories for the projects skhash's docs link to, written offline.

Build machines cannot download the projects' ``objects.inv``. The docs only link to a few
dozen of their objects, so this module finds those references (roles such as
``:class:`~sklearn.pipeline.Pipeline``` in the sources, and the types numpydoc links), checks
each object exists in the installed package, and writes a small inventory per project whose
addresses follow that project's documentation layout.
"""

import importlib
import inspect
import re
import zlib
from pathlib import Path

# Where each project documents an object, from its dotted name; explicit addresses for the
# objects that live elsewhere.
_LAYOUTS = {
    "sklearn": lambda name, kind: (
        f"api/{name}.html" if kind == "module" else f"modules/generated/{name}.html#{name}"
    ),
    "numpy": lambda name, kind: f"reference/generated/{name}.html#{name}",
    "pandas": lambda name, kind: f"reference/api/{name}.html#{name}",
    "matplotlib": lambda name, kind: f"api/_as_gen/{name}.html#{name}",
    "torch": lambda name, kind: f"generated/{name}.html#{name}",
    "python": lambda name, kind: f"library/{name.split('.')[0]}.html#{name}",
}
_EXPLICIT = {
    "numpy.random.RandomState": "reference/random/legacy.html#numpy.random.RandomState",
    "numpy.random.Generator": "reference/random/generator.html#numpy.random.Generator",
    "numpy.random.default_rng": "reference/random/generator.html#numpy.random.default_rng",
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.device": "tensor_attributes.html#torch.device",
    "torch.utils.data.Dataset": "data.html#torch.utils.data.Dataset",
    "torch.utils.data.DataLoader": "data.html#torch.utils.data.DataLoader",
    "torch.optim.lr_scheduler": "optim.html#how-to-adjust-learning-rate",
    "torch.inference_mode": "generated/torch.autograd.grad_mode.inference_mode.html",
}
# Always linked: the types numpydoc turns into links.
_ALWAYS = (
    "numpy.ndarray",
    "numpy.random.RandomState",
    "pandas.DataFrame",
    "matplotlib.figure.Figure",
    "matplotlib.axes.Axes",
    "sklearn.utils.Bunch",
    "torch.nn.Module",
    "torch.utils.data.Dataset",
    "torch.Generator",
    "torch.Tensor",
)
# The targets numpydoc's default type links use (numpydoc.xref.DEFAULT_LINKS).
_STANDARD = {
    "python": [
        "None py:data 1 library/constants.html#None -",
        "True py:data 1 library/constants.html#True -",
        "False py:data 1 library/constants.html#False -",
        "list py:class 1 library/stdtypes.html#list -",
        "tuple py:class 1 library/stdtypes.html#tuple -",
        "str py:class 1 library/stdtypes.html#str -",
        "dict py:class 1 library/stdtypes.html#dict -",
        "float py:class 1 library/functions.html#float -",
        "int py:class 1 library/functions.html#int -",
        "callable py:function 1 library/functions.html#callable -",
        "iterable std:term -1 glossary.html#term-iterable -",
        "sequence std:term -1 glossary.html#term-sequence -",
        "generator std:term -1 glossary.html#term-generator -",
        "bltin-boolean-values std:label -1 library/stdtypes.html#boolean-type-bool Boolean Type",
        "contextlib.contextmanager py:function 1 library/contextlib.html#$ -",
        "collections.namedtuple py:function 1 library/collections.html#$ -",
    ],
    "numpy": [
        "array_like std:term -1 glossary.html#term-array_like -",
        "arrays.scalars std:label -1 reference/arrays.scalars.html Scalars",
        "numpy.inf py:data 1 reference/constants.html#$ -",
        "numpy.nan py:data 1 reference/constants.html#$ -",
        "numpy py:module 1 reference/index.html -",
    ],
}
_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|obj|data|attr|exc):`~?"
    r"((?:sklearn|numpy|pandas|matplotlib|torch|time|joblib)\.[\w.]+)`"
)
_PREFIX = {"time": "python"}


def _find_references(root):
    names = set(_ALWAYS)
    for pattern in ("docs/**/*.rst", "docs/**/*.md", "examples/*.py", "skhash/**/*.py"):
        for path in root.glob(pattern):
            if "_build" in path.parts or "generated" in path.parts:
                continue
            names.update(_ROLE.findall(path.read_text(encoding="utf-8", errors="ignore")))
    return names


def _resolve(name):
    """``(kind, role)`` of a dotted name in the installed packages; None if it is not there."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        if inspect.ismodule(obj):
            return "module", "py:module"
        if inspect.isclass(obj):
            exc = issubclass(obj, BaseException)
            return "class", "py:exception" if exc else "py:class"
        if callable(obj):
            return "function", "py:method" if split < len(parts) - 1 else "py:function"
        return "data", "py:data"
    return None


def write_inventories(out_dir, root):
    """Write ``<project>.inv`` files into ``out_dir`` for the objects the docs reference.

    Returns
    -------
    paths : dict of str to Path
        Inventory file of each project that has at least one object here.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {project: [f"{line}\n" for line in lines] for project, lines in _STANDARD.items()}
    for name in sorted(_find_references(Path(root))):
        project = _PREFIX.get(name.split(".")[0], name.split(".")[0])
        resolved = _resolve(name)
        if resolved is None:
            continue
        kind, role = resolved
        uri = _EXPLICIT.get(name) or _LAYOUTS[project](name, kind)
        entries.setdefault(project, []).append(f"{name} {role} 1 {uri} -\n")
        if role == "py:class":  # numpydoc's type links ask for py:obj
            entries[project].append(f"{name} py:obj 1 {uri} -\n")
    paths = {}
    for project, lines in entries.items():
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {project}\n# Version: \n"
            "# The remaining of this file is compressed using zlib.\n"
        )
        path = out_dir / f"{project}.inv"
        path.write_bytes(header.encode() + zlib.compress("".join(lines).encode()))
        paths[project] = path
    return paths
