"""Near-duplicate fingerprints: stable across processes, robust to furniture, strict on topic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsflow_enrich.dedup.fingerprint import (
    DedupConfig,
    MinHasher,
    containment,
    decode_signature,
    encode_signature,
    shingles,
    similarity,
    words,
)

pytestmark = pytest.mark.unit

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "kherson-surrender-2022-09-13.txt"
)
STORY = (
    "The harbour authority in Cork said on Tuesday that the north quay would close for "
    "repairs after inspectors found cracks in two of its concrete piles.\n\n"
    "“We cannot take the risk with loaded trucks on it,” said Aoife Brennan, the authority's "
    "chief engineer, adding that ferries would dock at the south terminal until March.\n\n"
    "Shipping companies were told of the closure in a letter on Monday. Two of them said "
    "the change would add a day to some deliveries of grain and timber."
)
SAME_TOPIC = (
    "Cork's north quay is to shut for months, the harbour authority said, after cracks were "
    "found in its piles during a routine inspection this winter.\n\n"
    "Hauliers criticised the short notice. “Nobody asked us,” said Declan Murphy of the "
    "Irish Road Haulage Association, who said drivers faced long detours through the city."
)


def test_words_ignore_case_punctuation_and_quote_style() -> None:
    assert words("“Hello,” she SAID.") == words('"hello" she said')


def test_shingles_are_stable_across_processes() -> None:
    # Band keys live in PostgreSQL and are computed by every replica: no per-process hash().
    code = (
        "from newsflow_enrich.dedup.fingerprint import MinHasher;"
        f"print(MinHasher().band_keys(MinHasher().signature({STORY!r}))[:3])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    hasher = MinHasher()
    signature = hasher.signature(STORY)
    assert signature is not None
    assert out.stdout.strip() == str(hasher.band_keys(signature)[:3])


def test_text_shorter_than_a_shingle_is_one_shingle_and_empty_text_none() -> None:
    assert len(shingles("Storm hits coast", 5)) == 1
    assert MinHasher().signature("  ,;  ") is None


def test_a_copy_with_furniture_credit_and_correction_is_contained() -> None:
    hasher = MinHasher()
    copy = (
        "Home | World | Politics | Sport\n\nShare this article\n\n"
        + STORY.replace("\n\n", "\n\nAdvertisement\n\n", 1)
        + "\n\nCorrection: an earlier version misstated the month.\n\n"
        "This article first appeared on the Example Wire."
    )
    a, b = shingles(STORY, 5), shingles(copy, 5)
    sa, sb = hasher.signature_of(a), hasher.signature_of(b)
    assert sa is not None and sb is not None
    assert containment(sa, len(a), sb, len(b)) >= DedupConfig().threshold
    # Jaccard alone falls with what was added; containment is what finds the copy.
    assert similarity(sa, sb) < containment(sa, len(a), sb, len(b))
    assert set(hasher.band_keys(sa)) & set(hasher.band_keys(sb))


def test_a_different_story_on_the_same_topic_is_not_a_duplicate() -> None:
    hasher = MinHasher()
    a, b = shingles(STORY, 5), shingles(SAME_TOPIC, 5)
    sa, sb = hasher.signature_of(a), hasher.signature_of(b)
    assert sa is not None and sb is not None
    assert containment(sa, len(a), sb, len(b)) < 0.2


def test_signature_estimates_jaccard() -> None:
    hasher = MinHasher(DedupConfig(num_perm=512, bands=64))
    text = SAMPLE.read_text(encoding="utf-8")
    half = text[: len(text) // 2]
    a, b = shingles(text, 5), shingles(half, 5)
    true_jaccard = len(a & b) / len(a | b)
    sa, sb = hasher.signature_of(a), hasher.signature_of(b)
    assert sa is not None and sb is not None
    assert abs(similarity(sa, sb) - true_jaccard) < 0.08


def test_signature_round_trips_through_bytes() -> None:
    signature = MinHasher().signature(STORY)
    assert signature is not None
    assert np.array_equal(decode_signature(encode_signature(signature)), signature)
    assert len(encode_signature(signature)) == 8 * DedupConfig().num_perm


def test_band_keys_fit_a_postgresql_bigint_and_differ_per_band() -> None:
    hasher = MinHasher()
    signature = hasher.signature(STORY)
    assert signature is not None
    keys = hasher.band_keys(signature)
    assert len(keys) == DedupConfig().bands
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "kwargs", [{"num_perm": 100, "bands": 42}, {"shingle_words": 0}, {"threshold": 0.0}]
)
def test_inconsistent_configs_are_refused(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        DedupConfig(**kwargs)  # type: ignore[arg-type]


@given(st.text(max_size=400))
def test_any_text_is_identical_to_itself(text: str) -> None:
    hasher = MinHasher()
    hashes = shingles(text, 5)
    signature = hasher.signature_of(hashes)
    if signature is None:
        assert not words(text)
        return
    assert similarity(signature, signature) == 1.0
    assert containment(signature, len(hashes), signature, len(hashes)) == 1.0
