"""What this CPU can do for int8 kernels, read once (``/proc/cpuinfo`` on Linux).

onnxruntime picks its int8 matrix kernels by the instruction sets it finds at run time: with
VNNI (AVX-512 VNNI or AVX-VNNI) or AMX, ``u8 x s8`` products accumulate in 32 bits; on an
AVX2-only CPU (many AMD EPYC and older Intel parts) they go through ``vpmaddubsw``, which
adds two products into a saturating 16-bit integer. The same int8 model can therefore give
different vectors on two machines, so the export's agreement is recorded together with the
CPU it was measured on (:func:`cpu_signature`) and measured again on another.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: flags that change which int8 kernel onnxruntime runs (and so the numbers it computes)
KERNEL_FLAGS = (
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
)


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    @property
    def vnni(self) -> bool:
        """32-bit int8 accumulation (no 16-bit saturation) is available."""
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    def signature(self) -> str:
        """The model name and the kernel-relevant flags: equal signatures, equal int8 results."""
        flags = ",".join(f for f in KERNEL_FLAGS if f in self.flags) or "none"
        return f"{self.model} [{flags}]"

    def describe(self) -> str:
        """One line for logs and benchmarks, e.g. ``AMD EPYC 7B13 (AVX2, no VNNI)``."""
        parts = ["AVX2" if "avx2" in self.flags else "no AVX2"]
        if "avx512f" in self.flags:
            parts.append("AVX-512")
        parts.append("VNNI" if self.vnni else "no VNNI")
        if "amx_int8" in self.flags:
            parts.append("AMX")
        return f"{self.model} ({', '.join(parts)})"


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """This machine's CPU (the first processor's entry; they are alike on one machine)."""
    model, flags = "", frozenset[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
        if model and flags:
            break
    return CpuInfo(model=model or platform.processor() or platform.machine(), flags=flags)


def cpu_signature() -> str:
    return cpu_info().signature()


__all__ = ["KERNEL_FLAGS", "CpuInfo", "cpu_info", "cpu_signature"]
