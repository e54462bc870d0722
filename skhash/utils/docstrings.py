"""Docstring parts shared by many estimators, written once and filled in at class creation.

A docstring says ``{search_parameters}`` where the search parameters of every hasher go; each
parameter's ``default=`` is taken from the class's own signature, so it cannot drift.
"""

import inspect
import re

__all__ = ["SEARCH_PARAMETERS", "fill_doc", "with_defaults"]

SEARCH_PARAMETERS = """\
rerank : {"weighted", "asymmetric", "embedding"} or None
        Re-ranking of the Hamming candidates: ``kneighbors`` takes the
        ``n_neighbors * rerank_factor`` nearest codes by Hamming distance, then orders them by
        a finer distance (:mod:`skhash.reranking`): the weighted Hamming distance
        (``"weighted"``), the query's real embedding against each candidate's code
        (``"asymmetric"``: no extra memory), or the Euclidean distance between embeddings
        (``"embedding"``: the database keeps its float embeddings, ``4 * n_bits`` bytes per
        item, in ``database_embedding_``). ``score`` and the scorers rank the same way.
        Returned distances are then the re-ranking distances (floats).
    rerank_factor : int or None
        Hamming candidates per neighbour asked; None re-ranks the whole database.
    bit_weights : "learn", array-like of shape (n_bits,) or None
        Per-bit weights of every re-ranking distance (all 1 when None); "learn" fits them
        at ``fit`` (:func:`skhash.reranking.learn_bit_weights`: similar pairs share a label, or
        are neighbours in the embedding without labels) into ``bit_weights_``."""

_PARAMETER_LINE = re.compile(r"^(\s*)(\w+) : (.+)$", re.MULTILINE)


def with_defaults(text, signature):
    """``text`` with ``, default=...`` appended to each ``name : type`` line of a parameter
    in ``signature`` that has a default."""

    def add_default(match):
        indent, name, kind = match.groups()
        parameter = signature.parameters.get(name)
        if parameter is None or parameter.default is inspect.Parameter.empty:
            return match.group(0)
        return f"{indent}{name} : {kind}, default={parameter.default!r}"

    return _PARAMETER_LINE.sub(add_default, text)


def fill_doc(cls, **parts):
    """Replace ``{name}`` in ``cls``'s docstring by ``parts[name]`` (with the class's own
    defaults added); ``{search_parameters}`` is always known. Returns ``cls``."""
    if cls.__doc__:
        signature = inspect.signature(cls.__init__)
        for name, text in {**parts, "search_parameters": SEARCH_PARAMETERS}.items():
            cls.__doc__ = cls.__doc__.replace("{" + name + "}", with_defaults(text, signature))
    return cls
