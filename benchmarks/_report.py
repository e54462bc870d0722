"""Write one benchmark's results into its own section of docs/benchmarks.md."""

import datetime
import os
import platform
import re
from importlib import metadata
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the script it names in `benchmarks/`; rerun the script to "
    "update it.\n"
)


def environment(packages=("numpy", "scikit-learn", "numba", "torch", "faiss-cpu")):
    """One markdown line naming the machine, the versions and the date."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            if flags and cpu:
                break
    except OSError:
        pass
    if "avx512_vpopcntdq" in flags:
        avx512 = "AVX-512 with VPOPCNTDQ"
    elif "avx512f" in flags:
        avx512 = "AVX-512"
    else:
        avx512 = "AVX2, no AVX-512" if "avx2" in flags else "no AVX2"
    return (
        f"Machine: {cpu} ({avx512}), {os.cpu_count()} cores; {load()}; Python "
        f"{platform.python_version()}; {', '.join(versions)}; date "
        f"{datetime.date.today().isoformat()}."
    )


def load():
    """The machine's load now (1-minute average), as benchmarks are shared and noisy."""
    try:
        return f"load {os.getloadavg()[0]:.1f}"
    except OSError:
        return "load unknown"


def write_section(name, body, path=BENCHMARKS_MD):
    """Replace (or append) the section delimited by ``<!-- name:start/end -->`` markers."""
    path = Path(path)
    text = path.read_text() if path.exists() else HEADER
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
