"""Stand-ins for command-line tools (nvidia-smi, nvcc, cloudflared): executable shell
scripts written where a test puts them on ``PATH``."""

from __future__ import annotations

from pathlib import Path


def stub_tool(path: Path, script: str) -> Path:
    """An executable ``/bin/sh`` script at ``path`` running ``script``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path
