"""Run test code in a fresh Python process, so that a native crash fails one test, named,
instead of killing a pytest-xdist worker ("node down: Not properly terminated")."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# oneDNN picks its kernels by instruction set; capping it at AVX2 runs, on an AVX-512
# machine, the kernels that most users' CPUs (and the ones that exposed oneDNN#6035) run.
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2"}


def _run(code, env, timeout):
    child_env = {**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=REPO_ROOT,
        timeout=timeout,
    )


def exit_status(code, *, env=None, timeout=600):
    """The exit status of ``code`` run in a child interpreter (``-N``: killed by signal N)."""
    return _run(code, env, timeout).returncode


def run_python(code, *, env=None, timeout=600):
    """Run ``code`` (Python source, dedented) in a child interpreter; return its stdout.

    The calling test fails if the child dies by a signal (heap corruption ends in SIGABRT or
    SIGSEGV: the message names the signal and shows the end of the child's stderr, with
    faulthandler's Python traceback), exits non-zero, or runs past ``timeout`` seconds.
    """
    try:
        proc = _run(code, env, timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"child process still running after {timeout} s (a hang?):\n{exc.stderr}")
    tail = "\n".join(proc.stderr.splitlines()[-25:])
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        pytest.fail(f"child process killed by {name} (native crash); its stderr ends:\n{tail}")
    if proc.returncode != 0:
        pytest.fail(f"child process exited with status {proc.returncode}:\n{tail}")
    return proc.stdout


# -- a function in a child process --------------------------------------------------------
def _child(conn, func, args):
    try:
        conn.send(("ok", func(*args)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def run_in_subprocess(func, *args, timeout=300):
    """``func(*args)`` in a fresh (spawned) process; its return value, or a test failure
    that names the exception, the signal that killed the child, or the timeout."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, func, args))
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            process.kill()
            process.join()
            pytest.fail(f"{func.__name__}{args} did not finish in {timeout} s.")
        try:
            status, value = parent.recv()
        except EOFError:
            status, value = None, None
    finally:
        process.join(timeout=30)
        parent.close()
    if process.exitcode is not None and process.exitcode < 0:
        name = signal.Signals(-process.exitcode).name
        pytest.fail(f"{func.__name__}{args} died by signal {name} ({-process.exitcode}).")
    if status != "ok":
        pytest.fail(f"{func.__name__}{args} failed in the child: {value}")
    return value
