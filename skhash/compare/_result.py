"""What a comparison measured: raw table, summary, curves, figures and a markdown report
(the robustness table's report lives here too)."""

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ComparisonResult"]

SCORES = ("mAP", "mAP@k", "precision@k", "precision@radius")
TIMES = ("fit_time_s", "encode_ms_per_sample", "query_ms_per_query")
DIAGNOSTICS = ("chance_mAP", "distinct_codes", "constant_bits", "epochs_run", "best_epoch")
METRICS = (*SCORES, *TIMES, *DIAGNOSTICS)
KEYS = ("method", "family", "bits", "repeat")
_GROUP = ["method", "family", "bits"]
# Worst first: a group's status is the worst of its repeats.
_STATUSES = ("failed", "degenerate", "ok")
# Ten colours a reader tells apart: tab10 without its grey (kept for the chance line), then
# four darker ones for long method lists.
_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#000080",
    "#800000",
    "#006400",
    "#ff00ff",
)


def tidy_table(rows):
    """The results table of :func:`compare` from the runner's rows, columns in order."""
    columns = [*KEYS, "status", "note", *METRICS]
    table = pd.DataFrame(rows).reindex(columns=columns)
    for name in METRICS:
        table[name] = pd.to_numeric(table[name], errors="coerce").astype(float)
    table["note"] = table["note"].fillna("")
    return table


def worst_status(statuses):
    """The worst of some row statuses (failed, then degenerate, then ok)."""
    present = set(statuses)
    return next(s for s in _STATUSES if s in present)


def usable(frame):
    """Rows that may be called "best": neither failed nor degenerate."""
    return frame[frame["status"] == "ok"]


def markdown_table(frame, floatfmt="{:.4f}"):
    """A GitHub-flavoured markdown table of a DataFrame (index dropped)."""

    def cell(value):
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else floatfmt.format(value)
        return str(value).replace("|", "\\|")

    lines = [
        "| " + " | ".join(str(c) for c in frame.columns) + " |",
        "|" + "|".join(" --- " for _ in frame.columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def _short(text, width=60):
    """``text`` cut to ``width`` characters (the full text is in the report's lists)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _flag_lines(summary):
    """Report lines naming the failed and the degenerate settings, with their reasons."""
    lines = []
    for status, title in (
        ("failed", "Failed settings (no scores)"),
        ("degenerate", "Degenerate models (flagged; left out of the best lines)"),
    ):
        rows = summary[summary["status"] == status]
        if len(rows):
            lines += ["", f"{title}:", ""]
            lines += [f"- {r.method}, {r.bits} bits: {r.note}" for r in rows.itertuples()]
    return lines


def robustness_table(drops):
    """The mAP drop per method (rows, marked when degenerate; failed ones left out) and
    perturbation (columns such as ``"noise 0.1"``), from :func:`robustness`'s table."""
    ok = drops[drops["status"] != "failed"].copy()
    several = drops["bits"].nunique() > 1
    ok["method"] = [
        (f"{m} {b}" if several else m) + ("" if status == "ok" else f" ({status})")
        for m, b, status in zip(ok["method"], ok["bits"], ok["status"], strict=True)
    ]
    table = ok.pivot_table(
        index="method", columns=["perturbation", "strength"], values="mAP_drop", sort=False
    )
    table.columns = [f"{kind} {strength:g}" for kind, strength in table.columns]
    return table


def robustness_markdown(drops, n_bits):
    """The robustness section of a report: mAP drop per method and perturbation, degenerate
    and failed methods marked, and the usable method that keeps the highest mAP.

    Parameters
    ----------
    drops : pandas.DataFrame
        From :func:`robustness`.
    n_bits : int or sequence of int
        The code lengths measured, for the heading.
    """
    several = drops["bits"].nunique() > 1
    table = robustness_table(drops)
    bits = ", ".join(str(b) for b in np.atleast_1d(n_bits))
    lines = [
        f"## Robustness ({bits} bits)",
        "",
        "mAP drop (clean - perturbed) when the queries are perturbed; noise and brightness in "
        "fractions of the pixel range, rotation in degrees, crop in the fraction of each side "
        "cut away. A degenerate model (at chance level, or with too few distinct codes) "
        "barely drops because it had nothing to lose: it is marked and never called robust.",
        "",
        markdown_table(table.reset_index()),
    ]
    usable_drops = usable(drops)
    if len(usable_drops):
        # A model that retrieves little barely drops: it had little to lose. What a user wants
        # is the method that retrieves best once the queries are perturbed.
        perturbed = usable_drops.groupby(["method", "bits"], sort=False)["mAP"].mean()
        method, bits = perturbed.idxmax()
        lines += [
            "",
            f"Highest mAP on perturbed queries (mean over the perturbations): {method}"
            + (f" at {bits} bits" if several else "")
            + f" ({perturbed.max():.4f}), among the methods that were neither degenerate nor "
            "failed. A small drop alone does not make a method robust: a method that "
            "retrieves little barely drops.",
        ]
    failed = drops[drops["status"] == "failed"]
    lines += [f"- {r.method}, {r.bits} bits failed: {r.note}" for r in failed.itertuples()]
    return "\n".join(lines)


@dataclass
class ComparisonResult:
    """What :func:`compare` measured, with summaries, figures and a report.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (method, bits, repeat); the columns are listed in :func:`compare`'s
        Notes (``status`` and ``note`` say whether a setting failed or collapsed, and why).
    curves : pandas.DataFrame
        Tidy curves: ``method``, ``family``, ``bits``, ``repeat``, ``curve`` (``"pr"`` for
        Hamming-radius precision-recall with ``x`` the radius, ``"precision@k"`` with ``x`` the
        cut-off), ``x``, ``precision``, ``recall``.
    protocol : RetrievalProtocol
        The protocol.
    n_query, n_train, n_database : int
        Its sizes on this data.
    k : int
        Cut-off of ``mAP@k`` and ``precision@k``.
    radius : int
        Hamming radius of ``precision@radius``.
    validation_fraction : float or None
        Fraction of each training set the deep hashers held out to choose their epoch.
    figures : dict of str to matplotlib.figure.Figure
        Filled by ``compare(..., plot=True)`` or :meth:`plot_all`.
    warnings : list of dict
        What the hashers warned, once per method: ``method``, ``bits`` (the code lengths
        where it was said), ``category`` and ``message`` (as said first).
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    protocol: object
    n_query: int
    n_train: int
    n_database: int
    k: int
    radius: int = 2
    validation_fraction: float | None = None
    figures: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def summary(self):
        """Mean and standard deviation over repeats of every measure.

        Failed repeats are left out of the means; a group's ``status`` is the worst of its
        repeats and ``note`` joins their reasons.

        Returns
        -------
        summary : pandas.DataFrame
            One row per (method, bits): ``method``, ``family``, ``bits``, ``n_repeats`` (the
            repeats with scores), ``status``, ``note``, then for each measure its mean (named
            as in :attr:`table`) and ``<measure>_std`` (0 with a single repeat).
        """
        table = self.table
        grouped = table.groupby(_GROUP, sort=False)
        scored = table[table["status"] != "failed"].groupby(_GROUP, sort=False)
        mean = scored[list(METRICS)].mean().reindex(grouped.size().index)
        std = scored[list(METRICS)].std(ddof=1).reindex(grouped.size().index).fillna(0.0)
        out = mean.copy()
        for name in METRICS:
            out.insert(out.columns.get_loc(name) + 1, f"{name}_std", std[name])
        out.insert(
            0, "note", grouped["note"].agg(lambda n: "; ".join(dict.fromkeys(v for v in n if v)))
        )
        out.insert(0, "status", grouped["status"].agg(worst_status))
        out.insert(
            0, "n_repeats", scored.size().reindex(grouped.size().index).fillna(0).astype(int)
        )
        return out.reset_index()

    def pretty_summary(self):
        """The summary as readable strings: ``mean ± std`` with several repeats, the cut-offs
        in the column names, and a ``note`` column when a setting failed or collapsed."""
        summary = self.summary()
        several = summary["n_repeats"].max() > 1
        map_name = "mAP" if self.protocol.map_k is None else f"mAP@{self.protocol.map_k}"
        names = {
            "mAP": map_name,
            "mAP@k": f"mAP@{self.k}",
            "precision@k": f"P@{self.k}",
            "precision@radius": f"P(r<={self.radius})",
            "fit_time_s": "fit (s)",
            "encode_ms_per_sample": "encode (ms/item)",
            "query_ms_per_query": "query (ms)",
        }
        out = summary[_GROUP].copy()
        for name in (*SCORES, *TIMES):
            fmt = "{:.4f}" if name in SCORES else "{:.3g}"
            values = ["-" if np.isnan(v) else fmt.format(v) for v in summary[name]]
            if several and name in SCORES:
                values = [
                    v if v == "-" else f"{v} ± {s:.4f}"
                    for v, s in zip(values, summary[f"{name}_std"], strict=True)
                ]
            out[names[name]] = values
        if (summary["status"] != "ok").any():
            out["note"] = [
                "" if st == "ok" else _short(f"{st.upper()}: {note}")
                for st, note in zip(summary["status"], summary["note"], strict=True)
            ]
        return out

    def best(self, metric="mAP"):
        """The best usable method at each code length (failed and degenerate ones excluded).

        Returns
        -------
        best : pandas.DataFrame
            One row of :meth:`summary` per code length that has a usable method.
        """
        summary = usable(self.summary())
        if summary.empty:
            return summary
        return summary.loc[summary.groupby("bits", sort=True)[metric].idxmax()]

    # -- figures ----------------------------------------------------------------------
    def _methods(self):
        return list(dict.fromkeys(self.table["method"]))

    def _label(self, method):
        """The legend entry of a method: its name, and its flag when a setting collapsed or
        failed."""
        statuses = set(self.table.loc[self.table["method"] == method, "status"])
        flags = [s for s in ("degenerate", "failed") if s in statuses]
        return f"{method} ({', '.join(flags)})" if flags else method

    def _style(self, method):
        """Colour, line and marker of a method: deep ones dashed with square markers, a
        collapsed one with crosses; no grey, which is the chance line's."""
        family = self.table.loc[self.table["method"] == method, "family"].iloc[0]
        degenerate = "degenerate" in set(self.table.loc[self.table["method"] == method, "status"])
        colour = _COLOURS[self._methods().index(method) % len(_COLOURS)]
        return {
            "color": colour,
            "linestyle": "--" if family == "deep" else "-",
            "marker": "x" if degenerate else ("s" if family == "deep" else "o"),
        }

    def _legend_below(self, fig, axes):
        """One legend for all the panels, below them, so that it never hides a curve."""
        handles, labels = axes[-1].get_legend_handles_labels()
        width, height = fig.get_size_inches()
        # A column as wide as the longest label (line sample, then text in small type).
        column = 0.8 + 0.075 * max(len(label) for label in labels)
        ncol = max(1, min(len(labels), int(width // column)))
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize="small", frameon=False)
        rows = -(-len(labels) // ncol)
        fig.set_size_inches(width, height + 0.2 * rows)
        fig.tight_layout(rect=(0, (0.1 + 0.2 * rows) / (height + 0.2 * rows), 1, 1))

    def plot_map_vs_bits(self, metric="mAP", ax=None):
        """Mean (and spread over repeats) of ``metric`` against the code length.

        Parameters
        ----------
        metric : str, default="mAP"
            A measure of :attr:`table`, e.g. ``"mAP@k"`` or ``"fit_time_s"``.
        ax : matplotlib.axes.Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}; got {metric!r}.")
        fig, ax = plt.subplots(figsize=(7, 4)) if ax is None else (ax.figure, ax)
        summary = self.summary()
        if metric == "mAP":
            chance = summary["chance_mAP"].mean()
            ax.axhline(
                chance,
                color="0.45",
                linestyle=(0, (1, 2)),
                linewidth=1.2,
                zorder=1,
                label=f"chance: random order ({chance:.2f})",
            )
        for method in self._methods():
            rows = summary[summary["method"] == method]
            ax.errorbar(
                rows["bits"],
                rows[metric],
                yerr=rows[f"{metric}_std"],
                label=self._label(method),
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
        # Outside the axes, so that it never hides a line.
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
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
                ax.plot(curve["recall"], curve["precision"], label=self._label(method), **style)
            ax.set(xlabel="recall", title=f"{b} bits", xlim=(0, 1), ylim=(0, 1.02))
            ax.grid(alpha=0.3)
        panels[0][1].set_ylabel("precision")
        fig.suptitle("Precision-recall of Hamming-radius retrieval")
        self._legend_below(fig, [ax for _, ax in panels])
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
                ax.plot(curve["x"], curve["precision"], label=self._label(method), **style)
            ax.set(xscale="log", xlabel="k (retrieved items)", title=f"{b} bits", ylim=(0, 1.02))
            ax.grid(alpha=0.3)
        panels[0][1].set_ylabel("precision@k")
        fig.suptitle("Precision of the top k")
        self._legend_below(fig, [ax for _, ax in panels])
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
    def _selection_lines(self):
        deep = self.table[(self.table["family"] == "deep") & (self.table["status"] != "failed")]
        if deep.empty:
            return []
        if self.validation_fraction is None or deep["epochs_run"].isna().all():
            return [
                "",
                "Deep hashers trained for all their epochs (no validation split; the queries "
                "were never used to choose anything).",
            ]
        chosen = [
            f"{r.method} {r.bits} bits: epoch {int(r.best_epoch)} of {int(r.epochs_run)}"
            for r in deep.itertuples()
            if not np.isnan(r.best_epoch)
        ]
        return [
            "",
            f"Model selection: each deep hasher held out {self.validation_fraction:.0%} of its "
            "training set as a validation split (never the queries) and kept the weights of "
            "the epoch with the lowest validation loss: " + "; ".join(chosen) + ".",
        ]

    def to_markdown(self, title="Hashing comparison", *, figures=(), extra=""):
        """A markdown report: protocol, summary table, best methods, flags, figure links.

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
        best = self.best()
        several = self.protocol.n_repeats > 1
        lines = [
            f"# {title}",
            "",
            self.protocol.describe(self.n_query, self.n_train, self.n_database)
            + (" (mean ± std)." if several else "."),
            "Relevant = shares a label with the query; the database is ranked by Hamming "
            "distance; scores are tie-aware (the mean over every order of items at equal "
            "distance). Times: median of repeated runs after a warm-up "
            "run (a fit over 1 s: its single run).",
            "",
            markdown_table(self.pretty_summary()),
            "",
            "Best mAP: "
            + (
                "; ".join(f"{r.bits} bits: {r.method} ({r.mAP:.4f})" for r in best.itertuples())
                if len(best)
                else "none (every setting failed or collapsed)"
            )
            + ".",
        ]
        lines += _flag_lines(summary)
        if self.warnings:
            lines += ["", "Warnings of the hashers (each said once per method):", ""]
            lines += [
                f"- {w['method']} ({', '.join(map(str, w['bits']))} bits), "
                f"{w['category']}: {w['message']}"
                for w in self.warnings
            ]
        lines += self._selection_lines()
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
