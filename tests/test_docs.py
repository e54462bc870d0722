"""Slow checks of the documentation: the Sphinx build (warnings are errors) and the notebook."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebooks" / "quickstart.ipynb"

pytestmark = pytest.mark.slow


def _need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (pip install -e '.[docs]')")


def test_docs_build_without_warnings(tmp_path):
    _need("sphinx", "pydata_sphinx_theme", "sphinx_gallery", "numpydoc", "myst_parser")
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    for page in (
        "index.html",
        "install.html",
        "architecture.html",
        "api.html",
        "benchmarks.html",
        "auto_examples/index.html",
        "auto_examples/plot_image_folder_retrieval.html",
        "user_guide/comparing.html",
    ):
        assert (out / page).is_file(), page
    install = (out / "install.html").read_text()
    assert 'pip install "skhash[deep]"' in install.replace("&quot;", '"')
    assert "download.pytorch.org/whl/cpu" in install and "Python 3.10" in install
    # Every public name the issue found missing has its API page.
    for name in (
        "skhash.compare.compare",
        "skhash.compare.RetrievalProtocol",
        "skhash.distributed.DaskHammingIndex",
        "skhash.distributed.transform_dask",
        "skhash.index.pack_codes",
        "skhash.index.hamming_distances",
        "skhash.utils.timing.measure_time",
    ):
        assert (out / "generated" / f"{name}.html").is_file(), name
    if importlib.util.find_spec("torch") is not None:
        for name in ("Augmentation", "EarlyStopping", "Checkpoint", "LRScheduler", "Callback"):
            assert (out / "generated" / f"skhash.deep.{name}.html").is_file(), name
    # ComparisonResult documents its methods once each, without empty attribute rows.
    result_page = (out / "generated" / "skhash.compare.ComparisonResult.html").read_text()
    assert result_page.count('id="skhash.compare.ComparisonResult.summary"') == 1
    assert "__init__" not in result_page
    # The quick start comes first in the gallery; the notebook is on the site, executed.
    gallery = (out / "auto_examples" / "index.html").read_text()
    assert gallery.index("plot_quickstart") < min(
        gallery.index(p.stem)
        for p in (ROOT / "examples").glob("plot_*.py")
        if p.stem != "plot_quickstart"
    )
    notebook = (out / "notebooks" / "quickstart.html").read_text()
    assert "mAP" in notebook and "<img" in notebook
    # The comparing page shows computed numbers and figures, and formulas are typeset.
    comparing = (out / "user_guide" / "comparing.html").read_text()
    assert "<table" in comparing and "<img" in comparing and "ITQ" in comparing
    assert 'class="math' in (out / "user_guide" / "hamming_search.html").read_text()
    # Links to other projects' documentation (intersphinx, offline inventories).
    assert (
        "https://scikit-learn.org/stable/modules/generated/sklearn.pipeline.Pipeline.html"
        in (out / "index.html").read_text()
    )


def test_quickstart_notebook_runs(tmp_path):
    _need("nbclient", "nbformat", "ipykernel")
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "mAP" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
