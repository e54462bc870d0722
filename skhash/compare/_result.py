"""The result of a comparison: raw table, summary, curves, figures and a markdown report."""

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ComparisonResult"]

METRICS = (
    "mAP",
    "mAP@k",
    "precision@k",
    "precision@radius",
    "fit_time_s",
    "encode_ms_per_sample",
    "query_ms_per_query",
)
_SCORES = METRICS[:4]
_KEYS = ["method", "family", "bits"]


def markdown_table(frame, floatfmt="{:.4f}"):
    """A GitHub-flavoured markdown table of a DataFrame (index dropped)."""

    def cell(value):
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else floatfmt.format(value)
        return str(value)

    lines = [
        "| " + " | ".join(str(c) for c in frame.columns) + " |",
        "|" + "|".join(" --- " for _ in frame.columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


@dataclass
class ComparisonResult:
    """What :func:`compare` measured, with summaries, figures and a report.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (method, bits, repeat): ``method``, ``family``, ``bits``, ``repeat``,
        ``mAP``, ``mAP@k``, ``precision@k``, ``precision@radius``, ``fit_time_s``,
        ``encode_ms_per_sample``, ``query_ms_per_query``.
    curves : pandas.DataFrame
        Tidy curves: ``method``, ``family``, ``bits``, ``repeat``, ``curve`` (``"pr"`` for
        Hamming-radius precision-recall with ``x`` the radius, ``"precision@k"`` with ``x`` the
        cut-off), ``x``, ``precision``, ``recall``.
    protocol : RetrievalProtocol
        The protocol, and ``n_query``, ``n_train``, ``n_database`` its sizes on this data.
    k, radius : int
        Cut-off of ``mAP@k`` and ``precision@k``; Hamming radius of ``precision@radius``.
    figures : dict of str to matplotlib.figure.Figure
        Filled by ``compare(..., plot=True)`` or :meth:`plot_all`.
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    protocol: object
    n_query: int
    n_train: int
    n_database: int
    k: int
    radius: int = 2
    figures: dict = field(default_factory=dict)

    def summary(self):
        """Mean and standard deviation over repeats of every measure.

        Returns
        -------
        summary : pandas.DataFrame
            One row per (method, bits): ``method``, ``family``, ``bits``, ``n_repeats``, then
            for each measure its mean (named as in :attr:`table`) and ``<measure>_std``
            (0 with a single repeat).
        """
        grouped = self.table.groupby(_KEYS, sort=False)[list(METRICS)]
        mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
        out = mean.copy()
        for name in METRICS:
            out.insert(out.columns.get_loc(name) + 1, f"{name}_std", std[name])
        out.insert(0, "n_repeats", self.table.groupby(_KEYS, sort=False).size())
        return out.reset_index()

    def pretty_summary(self):
        """The summary as strings ``mean ± std`` with the cut-offs in the column names."""
        summary = self.summary()
        several = summary["n_repeats"].max() > 1
        names = {
            "mAP@k": f"mAP@{self.k}",
            "precision@k": f"P@{self.k}",
            "precision@radius": f"P(r<={self.radius})",
            "fit_time_s": "fit (s)",
            "encode_ms_per_sample": "encode (ms/item)",
            "query_ms_per_query": "query (ms)",
        }
        out = summary[_KEYS].copy()
        for name in METRICS:
            fmt = "{:.4f}" if name in _SCORES else "{:.3g}"
            values = [fmt.format(v) for v in summary[name]]
            if several and name in _SCORES:
                values = [
                    f"{v} ± {s:.4f}" for v, s in zip(values, summary[f"{name}_std"], strict=True)
                ]
            out[names.get(name, name)] = values
        return out

    # -- figures ----------------------------------------------------------------------
    def _methods(self):
        return list(dict.fromkeys(self.table["method"]))

    def _style(self, method):
        family = self.table.loc[self.table["method"] == method, "family"].iloc[0]
        return {"linestyle": "--" if family == "deep" else "-", "marker": "o"}

    def plot_map_vs_bits(self, metric="mAP", ax=None):
        """Mean (and spread over repeats) of ``metric`` against the code length.

        Parameters
        ----------
        metric : str, default="mAP"
            A measure of :attr:`table`, e.g. ``"mAP@k"`` or ``"fit_time_s"``.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}; got {metric!r}.")
        fig, ax = plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax)
        summary = self.summary()
        for method in self._methods():
            rows = summary[summary["method"] == method]
            ax.errorbar(
                rows["bits"],
                rows[metric],
                yerr=rows[f"{metric}_std"],
                label=method,
                capsize=3,
                **self._style(method),
            )
        bits = sorted(summary["bits"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(bits, [str(b) for b in bits])
        ax.minorticks_off()
        label = metric.replace("@k", f"@{self.k}").replace("@radius", f"(r<={self.radius})")
        ax.set(xlabel="code length (bits)", ylabel=label, title=f"{label} against code length")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", ncol=2)
        fig.tight_layout()
        return fig

    def _curve_axes(self, bits):
        import matplotlib.pyplot as plt

        all_bits = sorted(self.table["bits"].unique())
        bits = all_bits if bits is None else [b for b in np.atleast_1d(bits)]
        missing = set(bits) - set(all_bits)
        if missing:
            raise ValueError(f"No result for bits {sorted(missing)}; have {all_bits}.")
        fig, axes = plt.subplots(
            1, len(bits), figsize=(4.2 * len(bits), 3.8), squeeze=False, sharey=True
        )
        return fig, list(zip(bits, axes[0], strict=True))

    def _mean_curve(self, kind, method, bits):
        rows = self.curves[
            (self.curves["curve"] == kind)
            & (self.curves["method"] == method)
            & (self.curves["bits"] == bits)
        ]
        return rows.groupby("x")[["precision", "recall"]].mean().reset_index()

    def plot_precision_recall(self, bits=None):
        """Precision-recall curves of Hamming-ball retrieval (radius 0 to ``bits``).

        Parameters
        ----------
        bits : int or list of int, default=None
            Code lengths to draw, one panel each; all of them when None.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        fig, panels = self._curve_axes(bits)
        for b, ax in panels:
            for method in self._methods():
                curve = self._mean_curve("pr", method, b)
                style = {**self._style(method), "marker": None}
                ax.plot(curve["recall"], curve["precision"], label=method, **style)
            ax.set(xlabel="recall", title=f"{b} bits", xlim=(0, 1), ylim=(0, 1.02))
            ax.grid(alpha=0.3)
        panels[0][1].set_ylabel("precision")
        panels[-1][1].legend(fontsize="small")
        fig.suptitle("Precision-recall of Hamming-radius retrieval")
        fig.tight_layout()
        return fig

    def plot_precision_at_k(self, bits=None):
        """Precision of the top ``k`` retrieved items against ``k``.

        Parameters
        ----------
        bits : int or list of int, default=None
            Code lengths to draw, one panel each; all of them when None.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        fig, panels = self._curve_axes(bits)
        for b, ax in panels:
            for method in self._methods():
                curve = self._mean_curve("precision@k", method, b)
                style = {**self._style(method), "marker": "."}
                ax.plot(curve["x"], curve["precision"], label=method, **style)
            ax.set(xscale="log", xlabel="k (retrieved items)", title=f"{b} bits", ylim=(0, 1.02))
            ax.grid(alpha=0.3)
        panels[0][1].set_ylabel("precision@k")
        panels[-1][1].legend(fontsize="small")
        fig.suptitle("Precision of the top k")
        fig.tight_layout()
        return fig

    def plot_all(self):
        """The three standard figures, keyed ``map_vs_bits``, ``precision_recall`` and
        ``precision_at_k``."""
        return {
            "map_vs_bits": self.plot_map_vs_bits(),
            "precision_recall": self.plot_precision_recall(),
            "precision_at_k": self.plot_precision_at_k(),
        }

    # -- report -----------------------------------------------------------------------
    def to_markdown(self, title="Hashing comparison", *, figures=(), extra=""):
        """A markdown report: protocol, summary table, best methods, figure links.

        Parameters
        ----------
        title : str, default="Hashing comparison"
            First heading.
        figures : iterable of str, default=()
            File names of images to link below the table.
        extra : str, default=""
            Markdown appended at the end (e.g. a robustness table).

        Returns
        -------
        report : str
        """
        summary = self.summary()
        best = summary.loc[summary.groupby("bits", sort=True)["mAP"].idxmax()]
        p = self.protocol
        lines = [
            f"# {title}",
            "",
            f"Protocol: {self.n_query} queries, {self.n_train} training samples drawn from a "
            f"database of {self.n_database}; {p.n_repeats} random split(s)"
            + (" (mean ± std)." if p.n_repeats > 1 else "."),
            "Relevant = shares a label with the query; the whole database is ranked by Hamming "
            "distance, ties in database order.",
            "",
            markdown_table(self.pretty_summary()),
            "",
            "Best mAP: "
            + "; ".join(f"{r.bits} bits: {r.method} ({r.mAP:.4f})" for r in best.itertuples())
            + ".",
        ]
        if (summary["family"] == "deep").any():
            lines += [
                "",
                "Deep hashers were trained briefly (a few epochs on the CPU): their scores show "
                "a short training, not what the methods reach after a full one.",
            ]
        for name in figures:
            lines += ["", f"![{os.path.splitext(name)[0]}]({name})"]
        if extra:
            lines += ["", extra]
        return "\n".join(lines) + "\n"

    def save(self, out_dir, *, title="Hashing comparison", extra=""):
        """Write ``results.csv``, ``summary.csv``, ``curves.csv``, the three PNG figures and
        ``report.md`` into ``out_dir`` (created if needed).

        Returns
        -------
        paths : dict of str to str
            What was written, keyed by a short name.
        """
        import matplotlib.pyplot as plt

        os.makedirs(out_dir, exist_ok=True)
        paths = {}
        for name, frame in (
            ("results", self.table),
            ("summary", self.summary()),
            ("curves", self.curves),
        ):
            paths[name] = os.path.join(out_dir, f"{name}.csv")
            frame.to_csv(paths[name], index=False)
        figures = self.figures or self.plot_all()
        for name, fig in figures.items():
            paths[name] = os.path.join(out_dir, f"{name}.png")
            fig.savefig(paths[name], dpi=110)
            if not self.figures:
                plt.close(fig)
        paths["report"] = os.path.join(out_dir, "report.md")
        with open(paths["report"], "w", encoding="utf-8") as f:
            f.write(self.to_markdown(title, figures=[f"{n}.png" for n in figures], extra=extra))
        return paths
