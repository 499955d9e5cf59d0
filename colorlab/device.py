"""Which device, and which number format on it: one choice for training, colorizing and the apps.

On CUDA colorlab computes in bfloat16 (autocast) with the channels-last memory layout. On the
CPU it does the same only where the processor runs bf16 natively (x86: AVX-512 BF16 or AMX;
Arm: the BF16 extension); elsewhere bf16 would be emulated and many times slower, so it stays
in float32. :func:`choose_precision` makes that choice once and says why; ``--precision``
(``precision=`` in the API) overrides it.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import subprocess
from dataclasses import dataclass

import torch

__all__ = [
    "PRECISIONS",
    "Precision",
    "choose_precision",
    "choose_threads",
    "cpu_has_native_bf16",
    "cpu_name",
    "default_device",
    "free_cores",
    "resolve_device",
]

#: The values ``--precision`` accepts.
PRECISIONS = ("auto", "fp32", "bf16")


def free_cores() -> int:
    """CPU cores not busy with other work right now: the cores this process may use, less the
    one-minute load average, at least 1.

    On a 2-core machine where another job already computes, two PyTorch threads stall each other
    and one thread runs faster; this is how colorlab notices.
    """
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # pragma: no cover - Windows
        busy = 0.0
    return max(1, min(cores, cores - int(busy + 0.5)))


def choose_threads(threads: int | None = None) -> int:
    """How many CPU threads PyTorch should use: ``threads`` if given, else ``$COLORLAB_THREADS``,
    else :func:`free_cores`."""
    import os

    if threads is None and os.environ.get("COLORLAB_THREADS"):
        try:
            threads = int(os.environ["COLORLAB_THREADS"])
        except ValueError:
            raise ValueError(
                f"COLORLAB_THREADS must be a whole number, got {os.environ['COLORLAB_THREADS']!r}"
            ) from None
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return threads if threads is not None else free_cores()


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device`` (``None``: :func:`default_device`), with a one-line error if unusable."""
    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {str(device)!r}; use cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {str(device)!r} is not supported by colorlab; use cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but this machine has no usable CUDA GPU; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> tuple[str, frozenset[str]]:
    """(model name, feature flags) of this CPU, as far as the OS tells."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "model name" and value.strip():
                    name = value.strip()
                elif key in ("flags", "features"):
                    flags.update(value.split())
    except OSError:  # not Linux: ask macOS, else know nothing
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string", "hw.optional.arm.FEAT_BF16"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.split("\n")
            name = out[0].strip() or name
            if len(out) > 1 and out[1].strip() == "1":
                flags.add("bf16")
    return name, frozenset(flags)


def cpu_name() -> str:
    """This CPU's model name (e.g. ``"AMD EPYC 9454P 48-Core Processor"``)."""
    return _cpu_flags()[0]


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 in hardware (AVX-512 BF16, AMX-BF16, or Arm BF16)."""
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & _cpu_flags()[1])


@dataclass(frozen=True)
class Precision:
    """A choice of number format and memory layout, with the reason it was made."""

    dtype: torch.dtype  # torch.bfloat16 (autocast) or torch.float32
    channels_last: bool
    device_type: str
    reason: str

    @property
    def name(self) -> str:
        return "bf16" if self.dtype == torch.bfloat16 else "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context for the forward pass (a no-op in fp32)."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def __str__(self) -> str:
        layout = " + channels_last" if self.channels_last else ""
        return f"{self.name}{layout} on {self.device_type} ({self.reason})"


#: On the CPU, oneDNN's bf16 convolutions with a stride give wrong numbers (uninitialized memory,
#: different on every call) when their output is one pixel wide (seen in torch 2.14.1: a 3x3
#: stride-2 conv from 2 columns to 1). The paper's encoder does that for a network input 8 pixels
#: wide, so narrower inputs than this are computed in fp32 (they are tiny and fast either way).
CPU_BF16_MIN_SIDE = 16


def choose_precision(device: str | torch.device, requested: str = "auto", min_side: int | None = None) -> Precision:
    """The precision to compute in on ``device``: ``"auto"`` (the fastest safe one), ``"fp32"`` or ``"bf16"``.

    ``min_side`` is the shorter side of the network input when known: on the CPU an input
    narrower than :data:`CPU_BF16_MIN_SIDE` is computed in fp32 even when bf16 is asked for,
    because the CPU's bf16 convolutions are wrong there (see :data:`CPU_BF16_MIN_SIDE`).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if kind == "cpu" and requested != "fp32" and min_side is not None and min_side < CPU_BF16_MIN_SIDE:
        return Precision(
            torch.float32, False, kind, f"an input {min_side} px wide is wrong in the CPU's bf16 convolutions"
        )
    if requested == "fp32":
        return Precision(torch.float32, kind == "cuda", kind, "asked for")
    if requested == "bf16":
        return Precision(torch.bfloat16, True, kind, "asked for")
    if kind == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return Precision(torch.bfloat16, True, kind, f"{torch.cuda.get_device_name(device)} runs bf16 natively")
    if kind == "cuda":
        return Precision(torch.float32, True, kind, "this GPU has no native bf16")
    if kind == "cpu" and cpu_has_native_bf16():
        return Precision(torch.bfloat16, True, kind, f"{cpu_name()} runs bf16 natively")
    if kind == "cpu":
        return Precision(
            torch.float32, False, kind, f"{cpu_name()} has no native bf16 (AVX-512 BF16/AMX); emulated bf16 is slower"
        )
    return Precision(torch.float32, False, kind, f"no bf16 fast path known for {kind}")
