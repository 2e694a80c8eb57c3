"""This process's memory, from /proc: light enough to import in a measured child."""

from __future__ import annotations


def status() -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of this process, in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0]) * 1024
    return out


def reset_peak_rss() -> bool:
    """Set VmHWM back to the current VmRSS (Linux clear_refs 5); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True
