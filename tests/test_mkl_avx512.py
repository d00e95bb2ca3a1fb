"""The preloaded library that makes MKL choose its AVX-512 kernels on an AMD processor."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_lit.errors import MnistLitError
from mnist_lit.mkl_avx512 import build, why_not_needed, why_not_needed_here

AMD = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n"
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")


def test_only_an_amd_processor_with_avx512_needs_it() -> None:
    assert why_not_needed(AMD + AMD) is None  # one block per core
    assert "GenuineIntel" in why_not_needed(AMD.replace("AuthenticAMD", "GenuineIntel"))
    assert "no AVX-512" in why_not_needed(AMD.replace(" avx512f", ""))
    assert "not an x86 processor" in why_not_needed("processor\t: 0\nFeatures\t: fp asimd\n")


@needs_cc
def test_the_library_is_built_once_and_answers_yes(tmp_path: Path) -> None:
    library = build(tmp_path)
    built_at = library.stat().st_mtime_ns
    assert build(tmp_path) == library and library.stat().st_mtime_ns == built_at
    loaded = ctypes.CDLL(str(library))
    assert loaded.mkl_serv_intel_cpu_true() == 1 and loaded.mkl_serv_intel_cpu() == 1
    assert [path.name for path in tmp_path.iterdir()] == [library.name]  # no scratch file left beside it


def test_a_missing_or_failing_compiler_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(MnistLitError, match="no-such-cc' was not found"):
        build(tmp_path / "cache")
    monkeypatch.setenv("CC", "false")  # a compiler that exits 1 and writes nothing
    with pytest.raises(MnistLitError, match=r"failed \(exit 1\)"):
        build(tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def mkl_banner(preload: str) -> str:
    """The first line MKL writes with MKL_VERBOSE=1 in a fresh process, with ``preload`` in LD_PRELOAD."""
    env = os.environ | {"MKL_VERBOSE": "1", "LD_PRELOAD": preload}
    code = "import torch; torch.mm(torch.ones(64, 64), torch.ones(64, 64))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[0]


def test_the_module_prints_the_path_that_turns_mkls_avx512_kernels_on(tmp_path: Path) -> None:
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "mnist_lit.mkl_avx512"], env=env, capture_output=True, text=True, timeout=120
    )
    if (reason := why_not_needed_here()) is not None:  # this machine's processor decides which answer is right
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr.startswith(f"error: Not needed here: {reason}.")
        return
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine to build the library with")
    assert done.returncode == 0, done.stderr
    library = Path(done.stdout.strip())
    assert library.parent == tmp_path / "mnist_lit" and library.is_file()
    if "AVX-512" in mkl_banner(""):
        pytest.skip("this torch's MKL already runs its AVX-512 kernels here")
    assert "AVX-512" in mkl_banner(str(library))
