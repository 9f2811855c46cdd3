"""Large blocks get mappings of their own: a body freed in any thread leaves the RSS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from podman_exporter import heap

PROGRAM = """
import re, sys, threading
from podman_exporter import heap

def rss():
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\\s+(\\d+) kB", status).group(1)) * 1024

if sys.argv[1] == "mapped":
    assert heap.map_large_blocks()

def body_in_a_thread():
    for _ in range(3):  # as the threads that join bodies for requests do
        body = b"x" * (16 << 20)
        del body

before = rss()
for _ in range(3):
    thread = threading.Thread(target=body_in_a_thread)
    thread.start()
    thread.join()
print(rss() - before)
"""


def grown(mode: str) -> int:
    """Return the RSS bytes a fresh interpreter keeps after threads freed 16 MiB blocks."""
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], check=True,
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout)


@pytest.mark.skipif(heap._LIBC is None or not hasattr(heap._LIBC, "mallopt"),
                    reason="glibc only")
def test_freed_large_blocks_leave_the_rss() -> None:
    assert grown("dynamic") >= 12 << 20  # glibc's own threshold keeps them in a heap
    assert grown("mapped") < 4 << 20
