"""``import glassnet`` lets OpenBLAS's idle threads sleep (OPENBLAS_THREAD_TIMEOUT), only where it can and may."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"


def _run(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(("first", "expected"), [("import glassnet", "4"), ("import numpy, glassnet", "None")])
def test_set_only_before_numpy(first: str, expected: str) -> None:
    """Set when glassnet comes first (OpenBLAS reads it when NumPy loads it); left alone after NumPy, where it
    would be read by nobody and only mislead."""
    assert _run(f"{first}; {SHOW}") == expected


def test_user_value_kept() -> None:
    assert _run(f"import glassnet; {SHOW}", OPENBLAS_THREAD_TIMEOUT="28") == "28"


SPIN = ("import glassnet, time, numpy as np; a = np.ones((800, 800), np.float32); a @ a; "
        "t = time.process_time(); time.sleep(0.05); print(round(time.process_time() - t, 3))")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no worker thread on one core")
def test_idle_threads_sleep() -> None:
    """Read by OpenBLAS: in the 0.05 s after a two-thread product the process spends (nearly) no CPU time with
    the variable glassnet sets, and about 0.05 s (a worker spinning) with OpenBLAS's default."""
    two = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    asleep = float(_run(SPIN, **two))
    spinning = float(_run(SPIN, **two, OPENBLAS_THREAD_TIMEOUT="28"))
    assert asleep < 0.01 < 0.03 < spinning, (asleep, spinning)


def test_no_numpy_import() -> None:
    """The module imports nothing heavy: it must run before NumPy."""
    code = ("import sys, importlib.util; spec = importlib.util.spec_from_file_location('s', "
            f"{str(_module_path())!r}); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "print('numpy' in sys.modules, m.let_blas_threads_sleep())")
    assert _run(code) == "False False"  # already set by the module's own import above


def _module_path() -> str:
    import glassnet._base.sleep as sleep

    return sleep.__file__
