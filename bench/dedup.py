"""Near-duplicate detection: precision and recall on a generated corpus of copies.

`python -m bench.dedup [--json PATH]`. Originals come from three places, reported apart:
- **external, news**: NewsMTSC's AllSides sentences regrouped into their articles; AllSides
  files several outlets' articles under one event, so the other articles of an event are
  *unrelated stories on the same topic* — the hard negatives;
- **external, encyclopedic**: the WikiGold documents (detokenised);
- **ours**: the synthetic bench articles (template text: many near-identical sentences
  across unrelated articles, the hardest negatives of all).
Each original gets copies the way the web makes them: furniture changed around it,
paragraphs reordered, a correction appended, a syndication credit added, and all of those
at once. A pair is a true duplicate when both texts come from the same original.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.articles import make_articles
from newsflow_enrich.dedup.fingerprint import (
    DedupConfig,
    MinHasher,
    Signature,
    containment,
    shingles,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED = 20240301

MENUS = (
    "Home | World | Politics | Business | Sport | Culture | Opinion",
    "Skip to main content",
    "Sign in  Subscribe  Search",
    "Menu  News  Video  Live  Podcasts",
)
SHARE = (
    "Share this article: Facebook Twitter WhatsApp Email",
    "Share on Facebook  Share on Twitter  Copy link",
    "Advertisement",
    "Sign up for our daily newsletter: the headlines in your inbox every morning.",
    "Read more: the week in pictures",
    "© 2024 The Daily Example. All rights reserved.",
)
CREDITS = (
    "This article first appeared on The Conversation and is republished under a Creative "
    "Commons licence.",
    "Reporting by staff correspondents; editing by the world desk.",
    "— The Associated Press contributed to this report.",
    "Distributed by Tribune Content Agency.",
)
CORRECTIONS = (
    "Correction: an earlier version of this article misstated the date of the meeting.",
    "Update: this story has been updated with a statement from the ministry.",
    "Clarification: the figures cited above refer to the previous fiscal year.",
)


@dataclass(frozen=True, slots=True)
class Doc:
    key: str
    origin: str  # the original it was made from (itself for an original)
    group: str  # the topic group (an AllSides event; else the origin)
    corpus: str
    kind: str  # original | furniture | reordered | correction | syndicated | all
    text: str


def _newsmtsc_articles() -> list[tuple[str, str, str]]:
    """(event, article, text) for AllSides articles with at least three sentences."""
    path = SHARED_DATA / "newsmtsc" / "train.jsonl"
    if not path.is_file():
        return []
    sentences: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        parts = row["primary_gid"].split("_")
        if parts[0] != "allsides":
            continue
        sentences[(parts[2], parts[1])][int(parts[3])] = row["sentence_normalized"]
    return [
        (event, article, "\n\n".join(s[i] for i in sorted(s)))
        for (event, article), s in sorted(sentences.items())
        if len(s) >= 3
    ]


def _wikigold_documents() -> list[str]:
    path = SHARED_DATA / "wikigold" / "wikigold.conll.txt"
    if not path.is_file():
        return []
    docs: list[list[list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        token = line.split(" ")[0] if line.strip() else ""
        if token == "-DOCSTART-":
            docs.append([[]])
        elif not token:
            if docs and docs[-1][-1]:
                docs[-1].append([])
        elif docs:
            docs[-1][-1].append(token)
    return ["\n\n".join(" ".join(s) for s in doc if s) for doc in docs if any(doc)]


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def _furniture(rng: random.Random, text: str) -> str:
    head = rng.sample(MENUS, 2)
    tail = rng.sample(SHARE, 3)
    body = _paragraphs(text)
    middle = len(body) // 2
    body.insert(middle, rng.choice(SHARE))
    return "\n\n".join([*head, *body, *tail])


def _reordered(rng: random.Random, text: str) -> str:
    body = _paragraphs(text)
    if len(body) >= 2:
        i = rng.randrange(len(body) - 1)
        body[i], body[i + 1] = body[i + 1], body[i]
    return "\n\n".join(body)


def _correction(rng: random.Random, text: str) -> str:
    return f"{text}\n\n{rng.choice(CORRECTIONS)}"


def _syndicated(rng: random.Random, text: str) -> str:
    return f"(Example Wire) - {text}\n\n{rng.choice(CREDITS)}"


def _everything(rng: random.Random, text: str) -> str:
    return _syndicated(rng, _correction(rng, _furniture(rng, _reordered(rng, text))))


VARIANTS: dict[str, Callable[[random.Random, str], str]] = {
    "furniture": _furniture,
    "reordered": _reordered,
    "correction": _correction,
    "syndicated": _syndicated,
    "all": _everything,
}


def corpus(seed: int = SEED, synthetic: int = 120) -> list[Doc]:
    """Originals from every available source, each with one copy per variant."""
    rng = random.Random(seed)
    originals: list[tuple[str, str, str, str]] = []  # key, group, corpus, text
    for event, article, text in _newsmtsc_articles():
        originals.append((f"ns-{article}", f"ns-event-{event}", "newsmtsc (external)", text))
    for i, text in enumerate(_wikigold_documents()):
        originals.append((f"wg-{i}", f"wg-{i}", "wikigold (external)", text))
    seen: set[str] = set()
    for a in make_articles(synthetic, seed=seed):
        text = str(a.payload.get("text") or "")
        # make_articles repeats the sample article every 50th: one original, not three.
        if text and text not in seen:
            seen.add(text)
            originals.append((f"syn-{a.index}", f"syn-{a.index}", "synthetic (ours)", text))
    docs: list[Doc] = []
    for key, group, name, text in originals:
        docs.append(Doc(key, key, group, name, "original", text))
        for kind, make in VARIANTS.items():
            docs.append(Doc(f"{key}~{kind}", key, group, name, kind, make(rng, text)))
    return docs


@dataclass(frozen=True, slots=True)
class Scores:
    predicted: int
    true_pairs: int
    true_positives: int
    same_topic_pairs: int
    same_topic_false: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0


def _candidates(hasher: MinHasher, sigs: dict[str, Signature]) -> set[tuple[str, str]]:
    """Pairs sharing at least one LSH band key: what the PostgreSQL index returns."""
    buckets: dict[int, list[str]] = defaultdict(list)
    for key, sig in sigs.items():
        for band_key in hasher.band_keys(sig):
            buckets[band_key].append(key)
    pairs: set[tuple[str, str]] = set()
    for members in buckets.values():
        for a, b in combinations(sorted(members), 2):
            pairs.add((a, b))
    return pairs


def score(docs: Iterable[Doc], predicted: set[tuple[str, str]]) -> Scores:
    docs = list(docs)
    by_key = {d.key: d for d in docs}
    per_origin: dict[str, int] = defaultdict(int)
    per_group: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        per_origin[d.origin] += 1
        per_group[d.group].add(d.origin)
    true_pairs = sum(n * (n - 1) // 2 for n in per_origin.values())
    same_topic = sum(
        per_origin[a] * per_origin[b]
        for origins in per_group.values()
        for a, b in combinations(sorted(origins), 2)
    )
    hits = sum(1 for a, b in predicted if by_key[a].origin == by_key[b].origin)
    same_topic_false = sum(
        1
        for a, b in predicted
        if by_key[a].origin != by_key[b].origin and by_key[a].group == by_key[b].group
    )
    return Scores(len(predicted), true_pairs, hits, same_topic, same_topic_false)


def evaluate(config: DedupConfig, threshold: float, docs: list[Doc]) -> dict[str, Any]:
    hasher = MinHasher(config)
    started = time.perf_counter()
    sigs: dict[str, Signature] = {}
    sizes: dict[str, int] = {}
    for d in docs:
        hashes = shingles(d.text, config.shingle_words)
        sig = hasher.signature_of(hashes)
        if sig is not None:
            sigs[d.key] = sig
            sizes[d.key] = len(hashes)
            hasher.band_keys(sig)
    per_article_ms = (time.perf_counter() - started) * 1000 / max(1, len(docs))
    candidates = _candidates(hasher, sigs)
    predicted = {
        (a, b)
        for a, b in candidates
        if containment(sigs[a], sizes[a], sigs[b], sizes[b]) >= threshold
    }
    out: dict[str, Any] = {
        "shingle_words": config.shingle_words,
        "num_perm": config.num_perm,
        "bands": config.bands,
        "threshold": threshold,
        "ms_per_article": round(per_article_ms, 3),
        "candidates": len(candidates),
        "corpora": {},
    }
    for name in sorted({d.corpus for d in docs}):
        subset = [d for d in docs if d.corpus == name]
        keys = {d.key for d in subset}
        s = score(subset, {p for p in predicted if p[0] in keys and p[1] in keys})
        missed = _missed_by_kind(subset, predicted)
        out["corpora"][name] = {
            "documents": len(subset),
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "true_pairs": s.true_pairs,
            "predicted_pairs": s.predicted,
            "same_topic_pairs": s.same_topic_pairs,
            "same_topic_linked": s.same_topic_false,
            "recall_by_variant": missed,
        }
    everything = score(docs, predicted)
    out["all"] = {
        "precision": round(everything.precision, 4),
        "recall": round(everything.recall, 4),
    }
    return out


def _missed_by_kind(docs: list[Doc], predicted: set[tuple[str, str]]) -> dict[str, float]:
    """Per variant: the share of copies linked to their original."""
    linked: dict[str, list[bool]] = defaultdict(list)
    for d in docs:
        if d.kind == "original":
            continue
        pair = tuple(sorted((d.key, d.origin)))
        linked[d.kind].append(pair in predicted)
    return {kind: round(sum(v) / len(v), 4) for kind, v in sorted(linked.items())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dedup", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    docs = corpus()
    sizes = [len(d.text) for d in docs if d.kind == "original"]
    print(f"{len(docs)} documents, originals' median size {statistics.median(sizes):.0f} chars")
    results = []
    default = DedupConfig()
    for words, perms, bands in ((3, 128, 32), (3, 126, 42), (4, 126, 42), (5, 126, 42)):
        for threshold in (0.6, 0.7, 0.8):
            config = DedupConfig(
                shingle_words=words, num_perm=perms, bands=bands, threshold=threshold
            )
            r = evaluate(config, threshold, docs)
            r["default"] = config == default
            results.append(r)
            print(
                f"{'* ' if r['default'] else '  '}shingles {words}, {bands} bands of "
                f"{perms // bands}, containment >= {threshold}: "
                f"P {r['all']['precision']:.4f} R {r['all']['recall']:.4f}, "
                f"{r['ms_per_article']:.2f} ms/article"
            )
            for name, c in r["corpora"].items():
                print(
                    f"    {name:24} P {c['precision']:.4f} R {c['recall']:.4f} "
                    f"same-topic linked {c['same_topic_linked']}/{c['same_topic_pairs']} "
                    f"{c['recall_by_variant']}"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
