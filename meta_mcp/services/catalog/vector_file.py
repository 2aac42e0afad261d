"""`VectorFile`: document vectors kept on disk between runs, so a restarted meta-mcp does not embed its
catalog and tools again (the hybrid ranker's first query took 7–30 s on two busy cores, every start).

Semantics:
- Keyed by the SHA-256 of (model key, text): the file holds no text, and a vector is only ever found for
  the model and the exact text it was made from (another model, or a changed description, misses).
- Whatever is wrong with the file — missing, unreadable, not a regular file, not ours, cut short, over the size bound,
  non-finite values — reads as empty and is logged once; the next write replaces it. A failed write is
  logged once and changes nothing else: the cache is an optimisation, never a reason for a search to fail.
- Reading is bounded before anything is decoded: the header's counts must match the file's size, which
  must be within `max_vectors` rows of at most `MAX_DIM` floats.
- At most `max_vectors` vectors; past that the oldest written go first. Writes merge what is on disk
  (another process's additions stay), then replace the file atomically (a temporary file in the same
  directory, mode 0600, renamed), so no reader ever sees half a file.

Example:
    store = VectorFile(Path("~/.cache/meta-mcp/vectors.bin").expanduser())
    store.get("minilm:1a2b", ["time: get current time"])          # {} the first time
    store.put("minilm:1a2b", {"time: get current time": vector})  # written; found by the next process
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import struct
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

MAGIC = b"MMCPVEC1"
"""The file's first bytes; then the row count and the dimension (little-endian u32 each), the rows'
32-byte digests, and the rows' float32 vectors."""
HEADER = struct.Struct("<8sII")
DIGEST_BYTES = 32
MAX_DIM = 4096
"""The largest vector a file may hold (floats); MiniLM's are 384."""
MAX_VECTORS = 10_000
"""Default bound on the vectors kept (MiniLM: ~15 MB on disk)."""


def digest(model_key: str, text: str) -> bytes:
    """The key of `text`'s vector under the model `model_key`."""
    return hashlib.sha256(f"{model_key}\0{text}".encode("utf-8", "surrogatepass")).digest()


class VectorFile:
    """A bounded, crash-safe store of (model, text) → unit vector on disk (see the module docstring).
    Thread-safe; several processes may share one file."""

    def __init__(self, path: Path, max_vectors: int = MAX_VECTORS) -> None:
        self.path = path
        self.max_vectors = max_vectors
        self._lock = threading.Lock()
        self._rows: dict[bytes, np.ndarray] | None = None
        self._warned: set[str] = set()

    def get(self, model_key: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `texts` the file holds for `model_key`."""
        with self._lock:
            if self._rows is None:
                self._rows = self._read()
            rows = self._rows
        found = {}
        for text in texts:
            vector = rows.get(digest(model_key, text))
            if vector is not None:
                found[text] = vector
        return found

    def put(self, model_key: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Add `vectors` (text → vector, all of one dimension) and write the file."""
        import numpy as np

        if not vectors:
            return
        new = {digest(model_key, text): np.asarray(v, dtype=np.float32) for text, v in vectors.items()}
        dim = next(iter(new.values())).shape[-1]
        with self._lock:
            rows = {k: v for k, v in self._read().items() if v.shape[-1] == dim and k not in new}
            rows.update(new)
            if len(rows) > self.max_vectors:
                rows = dict(list(rows.items())[len(rows) - self.max_vectors:])
            self._rows = rows
            self._write(rows, dim)

    def _read(self) -> dict[bytes, np.ndarray]:
        """The file's rows in the order written; {} (logged once) when it is missing or not valid."""
        import numpy as np

        try:
            # O_NONBLOCK: a FIFO put in its place must not hang the search that reads it.
            with open(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise ValueError("not a regular file")
                if info.st_size > HEADER.size + self.max_vectors * (DIGEST_BYTES + 4 * MAX_DIM):
                    raise ValueError(f"{info.st_size} bytes, more than {self.max_vectors} vectors take")
                data = f.read(info.st_size + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            self._warn("read", f"cannot be read ({exc.strerror or exc})")
            return {}
        except ValueError as exc:
            self._warn("read", str(exc))
            return {}
        try:
            magic, count, dim = HEADER.unpack_from(data)
            if magic != MAGIC:
                raise ValueError("not a meta-mcp vector file")
            if count > self.max_vectors or not 1 <= dim <= MAX_DIM:
                raise ValueError(f"{count} vectors of {dim} floats is out of bounds")
            if len(data) != HEADER.size + count * (DIGEST_BYTES + 4 * dim):
                raise ValueError("its length does not match its header (cut short?)")
            digests = np.frombuffer(data, np.uint8, count * DIGEST_BYTES, HEADER.size).reshape(count, DIGEST_BYTES)
            matrix = np.frombuffer(data, np.float32, count * dim, HEADER.size + count * DIGEST_BYTES
                                   ).reshape(count, dim)
            if not np.isfinite(matrix).all():
                raise ValueError("it holds non-finite values")
        except (struct.error, ValueError) as exc:
            self._warn("read", str(exc))
            return {}
        return {bytes(d): matrix[i] for i, d in enumerate(digests)}

    def _write(self, rows: Mapping[bytes, np.ndarray], dim: int) -> None:
        import numpy as np

        matrix = np.stack(list(rows.values())).astype("<f4") if rows else np.zeros((0, dim), "<f4")
        body = HEADER.pack(MAGIC, len(rows), dim) + b"".join(rows) + matrix.tobytes()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".vectors-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            self._warn("write", f"cannot be written ({exc.strerror or exc})")

    def _warn(self, what: str, why: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("embedding cache %s: %s; %s", self.path, why,
                           "starting it afresh" if what == "read" else "vectors are kept in memory only")
