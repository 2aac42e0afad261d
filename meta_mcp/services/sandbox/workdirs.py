"""Where runs keep their files, and cleaning up after meta-mcp processes that were killed.

Run directories (`meta-mcp-run-<pid>-…`) and the warm `DENO_DIR` template
(`meta-mcp-deno-dir-<pid>-…`) carry the pid of the meta-mcp process that made them. A process
deletes its own (runs after each run, the template at exit); `sweep` deletes those whose process is
gone — killed before its cleanup could run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def default_tmpdir() -> Path:
    """Where run directories go: `/dev/shm` (memory) when it is a writable directory, else the system
    temp dir. A run creates and deletes a few dozen small files (Deno's caches among them); on a
    busy disk that alone can cost more than the run."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else Path(tempfile.gettempdir())


def sweep(tmpdir: Path) -> None:
    """Delete run and template directories left by meta-mcp processes of this user that are gone
    (killed before their cleanup ran); names carry the creating process's pid."""
    for entry in tmpdir.glob("meta-mcp-*-*-*"):
        kind, _, rest = entry.name.removeprefix("meta-mcp-").partition("-")
        if kind == "deno" and rest.startswith("dir-"):
            rest = rest.removeprefix("dir-")
        elif kind != "run":
            continue
        pid = rest.split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
