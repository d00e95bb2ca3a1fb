"""MKL's AVX-512 kernels on an AMD processor: a one-line library to preload, off unless you ask for it.

    LD_PRELOAD=$(python -m mnist_lit.mkl_avx512) python -m mnist_lit fit --config configs/one_hidden.yaml

torch's float32 matrix products on the CPU go to MKL, which chooses its kernels by the processor's maker
before its instruction sets: on an AMD processor it runs its AVX2 kernels, also where the processor has
AVX-512 (Zen 4 and later). MKL asks its own functions ``mkl_serv_intel_cpu_true`` and
``mkl_serv_intel_cpu`` whether the processor is Intel's. torch's library exports them, so the dynamic
linker binds MKL's calls to the first definitions it finds, and a library preloaded ahead of torch that
answers yes makes MKL choose by instruction set alone (``MKL_VERBOSE=1`` then names AVX-512). It must
come before torch is loaded (torch binds its symbols when it loads), hence ``LD_PRELOAD`` rather than a
call in Python; the command and every process it starts get it, DDP's too.

The products are as precise but sum in another order, so a seed's weights differ from those of MKL's
default kernels: the README's seed-42 figures need it off. What it gains and changes is measured in
``docs/benchmarks.md``.

Run as a module, this builds the library once with the C compiler (``$CC``, else ``cc``) into the user's
cache folder and prints its path. Where it would change nothing or cannot be built, it prints nothing on
stdout and exits non-zero with the reason on stderr, so ``LD_PRELOAD`` is left empty.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mnist_lit.atomic import write_file
from mnist_lit.errors import MnistLitError, exits_on_user_error

# MKL's two questions "is this an Intel processor?", answered yes
SOURCE = "int mkl_serv_intel_cpu_true(void) { return 1; }\nint mkl_serv_intel_cpu(void) { return 1; }\n"


def why_not_needed(cpuinfo: str) -> str | None:
    """Why preloading the library would change nothing on the processor ``/proc/cpuinfo`` describes, or
    None where MKL would run faster kernels with it (an AMD processor with AVX-512)."""
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    vendor, flags = fields.get("vendor_id", ""), fields.get("flags", "").split()
    if not vendor:
        return "this is not an x86 processor, and MKL runs on x86 processors only"
    if vendor != "AuthenticAMD":
        return f"this processor is {vendor}, where MKL already chooses its kernels by instruction set"
    if "avx512f" not in flags:
        return "this AMD processor has no AVX-512, so MKL's AVX2 kernels are already the fastest it can run"
    return None


def why_not_needed_here() -> str | None:
    """:func:`why_not_needed` for this machine's processor."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return "there is no /proc/cpuinfo, and the library is for Linux on x86-64"
    return why_not_needed(cpuinfo.read_text())


def cache_folder() -> Path:
    """Where the built library is kept: ``$XDG_CACHE_HOME/mnist_lit``, else ``~/.cache/mnist_lit``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist_lit"


def build(folder: Path) -> Path:
    """The library in ``folder``, compiled there the first time (its name carries a hash of its source)."""
    target = folder / f"mkl_intel_cpu_{hashlib.sha256(SOURCE.encode()).hexdigest()[:12]}.so"
    if target.is_file():
        return target
    compiler = os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise MnistLitError(
            f"Cannot build the library: the C compiler {compiler!r} was not found. Install one (apt-get install "
            "gcc) or name yours in CC, then run this again."
        )
    with tempfile.TemporaryDirectory() as scratch:
        built = Path(scratch) / target.name
        command = [compiler, "-shared", "-fPIC", "-O2", "-x", "c", "-", "-o", str(built)]
        done = subprocess.run(command, input=SOURCE, capture_output=True, text=True)
        if done.returncode != 0:
            said = f": {done.stderr.strip()[-500:]}" if done.stderr.strip() else ""
            raise MnistLitError(
                f"Cannot build the library: {' '.join(command)} failed (exit {done.returncode}){said}. Check the "
                "compiler in CC, then run this again."
            )
        write_file(target, built.read_bytes(), advice="Free some space or set XDG_CACHE_HOME, then run this again.")
    return target


@exits_on_user_error
def main() -> int:
    """Print the library's path, building it first where needed."""
    if (reason := why_not_needed_here()) is not None:
        raise MnistLitError(f"Not needed here: {reason}. Run without LD_PRELOAD.")
    print(build(cache_folder()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
