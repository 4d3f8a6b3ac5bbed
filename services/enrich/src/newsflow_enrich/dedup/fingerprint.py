"""Near-duplicate fingerprints: word shingles, MinHash signatures and LSH band keys.

Pure and deterministic across processes and machines (no `hash()`, no random state outside
the seed), so every enrich replica computes the same keys and the index can live in
PostgreSQL: two articles are candidates when they share a band key, and near-duplicates
when their signatures agree on at least `threshold` of their positions (an estimate of the
Jaccard similarity of their shingle sets).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# The smallest prime above 2**32: shingle hashes are 32-bit, so (a * x + b) with a, b below
# 2**31 stays inside uint64 and the permutation is exact modular arithmetic.
_PRIME = np.uint64(4_294_967_311)
_WORD = re.compile(r"\w+", re.UNICODE)

Signature = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """How fingerprints are made; changing any of these needs a re-index of stored articles."""

    # Chosen on bench/dedup.py's corpus: 5-word shingles, 42 bands of 3 rows (candidates
    # from a Jaccard similarity of about 0.29) and a containment of 0.6 to confirm.
    shingle_words: int = 5
    num_perm: int = 126
    bands: int = 42
    threshold: float = 0.6
    seed: int = 20221113

    def __post_init__(self) -> None:
        if self.shingle_words < 1:
            raise ValueError("shingle_words must be at least 1")
        if self.bands < 1 or self.num_perm % self.bands:
            raise ValueError("num_perm must be a positive multiple of bands")
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    @property
    def candidate_threshold(self) -> float:
        """The Jaccard similarity at which two texts become candidates with probability ~1/2."""
        return float((1 / self.bands) ** (1 / self.rows))


def words(text: str) -> list[str]:
    """Case-folded NFKC word tokens: punctuation, quote styles and spacing do not matter."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, size: int) -> set[int]:
    """32-bit hashes of the text's overlapping `size`-word runs (the whole text if shorter)."""
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) <= size:
        runs: Iterable[Sequence[str]] = [tokens]
    else:
        runs = (tokens[i : i + size] for i in range(len(tokens) - size + 1))
    return {
        int.from_bytes(hashlib.blake2b(" ".join(run).encode(), digest_size=4).digest(), "big")
        for run in runs
    }


class MinHasher:
    """MinHash signatures under `num_perm` fixed universal hash permutations."""

    def __init__(self, config: DedupConfig = DedupConfig()) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        self._a = rng.integers(1, 2**31, size=config.num_perm, dtype=np.uint64)
        self._b = rng.integers(0, 2**31, size=config.num_perm, dtype=np.uint64)

    def signature(self, text: str) -> Signature | None:
        """The text's signature; None when it has no words (nothing to compare)."""
        return self.signature_of(shingles(text, self.config.shingle_words))

    def signature_of(self, hashes: set[int]) -> Signature | None:
        if not hashes:
            return None
        x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
        permuted = (np.outer(x, self._a) + self._b) % _PRIME
        minimum: Signature = permuted.min(axis=0)
        return minimum

    def band_keys(self, signature: Signature) -> list[int]:
        """One key per band, a signed 64-bit integer (a PostgreSQL bigint); band i's key
        differs from band j's for equal rows, so keys of all bands share one index."""
        rows = self.config.rows
        keys = []
        for band in range(self.config.bands):
            chunk = signature[band * rows : (band + 1) * rows].astype("<u8").tobytes()
            digest = hashlib.blake2b(band.to_bytes(2, "big") + chunk, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "big", signed=True))
        return keys


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return float(np.count_nonzero(a == b)) / len(a)


def containment(a: Signature, size_a: int, b: Signature, size_b: int) -> float:
    """Estimated share of the smaller text's shingles that the other text also has.

    A copy with furniture, a credit or a correction added keeps the original's shingles
    and adds its own: its Jaccard similarity falls with what was added, its containment
    does not. From J = |A∩B| / |A∪B|: |A∩B| = J (|A| + |B|) / (1 + J).
    """
    if min(size_a, size_b) == 0:
        return 0.0
    j = similarity(a, b)
    return min(1.0, j * (size_a + size_b) / (1 + j) / min(size_a, size_b))


def encode_signature(signature: Signature) -> bytes:
    """Storage form: little-endian uint64s (a PostgreSQL bytea)."""
    return signature.astype("<u8").tobytes()


def decode_signature(data: bytes) -> Signature:
    decoded: Signature = np.frombuffer(data, dtype="<u8").astype(np.uint64)
    return decoded
