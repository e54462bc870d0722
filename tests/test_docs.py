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
    for page in ("index.html", "api.html", "benchmarks.html", "auto_examples/index.html"):
        assert (out / page).is_file(), page
    assert (out / "generated" / "skhash.compare.compare.html").is_file()
    assert (out / "auto_examples" / "plot_image_folder_retrieval.html").is_file()


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
