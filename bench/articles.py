"""Deterministic synthetic news articles (2–8 KB) for the benchmarks, plus the shared sample."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20220913
MIN_BYTES = 2_000
MAX_BYTES = 8_000
SAMPLE_NAME = "kherson-surrender-2022-09-13.txt"

FIRST = (
    "Amara",
    "Bogdan",
    "Chiara",
    "Dmytro",
    "Elena",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ines",
    "Jonas",
    "Kateryna",
    "Luis",
    "Mariam",
    "Nikolai",
    "Olga",
    "Pedro",
    "Quentin",
    "Rania",
    "Sven",
    "Tamar",
    "Usman",
    "Vera",
    "Wiktor",
    "Yara",
    "Zoltan",
    "Aisha",
    "Bernard",
)
LAST = (
    "Okafor",
    "Kovalenko",
    "Moretti",
    "Lindqvist",
    "Haddad",
    "Tanaka",
    "Alvarez",
    "Novak",
    "Schneider",
    "Petrenko",
    "Fischer",
    "Dubois",
    "Nakamura",
    "Rossi",
    "Mensah",
    "Ivanova",
    "Santos",
    "Horvath",
    "Brennan",
    "Kowalski",
    "Sato",
    "Mwangi",
    "Larsen",
    "Yilmaz",
)
ROLES = (
    ("President", None),
    ("Prime Minister", None),
    ("Governor", "region"),
    ("spokesperson", "ministry"),
    ("Mayor", "city"),
    ("adviser", "ministry"),
    ("chief executive", "company"),
    ("analyst", "institute"),
    ("commander", "army"),
)
CITIES = (
    "Odesa",
    "Lisbon",
    "Nairobi",
    "Gdansk",
    "Porto Alegre",
    "Osaka",
    "Tbilisi",
    "Lyon",
    "Kharkiv",
    "Accra",
    "Valencia",
    "Tampere",
    "Izmir",
    "Cork",
    "Brno",
    "Mombasa",
)
REGIONS = ("Mykolaiv", "Bavaria", "Catalonia", "Lapland", "Silesia", "Kerala", "Ontario")
COUNTRIES = ("Ukraine", "Portugal", "Kenya", "Poland", "Brazil", "Japan", "Georgia", "France")
ORGS = (
    "the Ministry of Energy",
    "the Central Bank",
    "the Port Authority",
    "Northwind Logistics",
    "the Institute for Regional Studies",
    "the Red Cross",
    "Helios Grid",
    "the Supreme Court",
    "the Harbour Workers' Union",
    "the Agency for Water Resources",
    "Baltic Rail",
)
TOPICS = (
    ("flood defences", "the floods"),
    ("the grain corridor", "grain exports"),
    ("the port strike", "the strike"),
    ("the power outages", "the blackouts"),
    ("the budget vote", "the budget"),
    ("the ceasefire talks", "the talks"),
    ("the rail merger", "the merger"),
    ("the hospital reform", "the reform"),
)
VERBS = ("said", "told reporters", "added", "warned", "insisted", "wrote on social media")
OPINIONS = (
    "This is a serious mistake and people will pay for it",
    "We welcome the decision; it is the right step for families here",
    "Nothing has changed on the ground, whatever the statements say",
    "The plan is late, underfunded and badly explained",
    "We are proud of what the crews achieved overnight",
    "Nobody should be surprised, the warnings were clear for months",
    "It is a fragile success and it can still fall apart",
    "We will not accept terms written somewhere else",
)
FACTS = (
    "Officials in {city} said {n} people had been moved to temporary shelters by {day}.",
    "{org} estimated the damage at {n} million euros, a figure it called provisional.",
    "Traffic through {city} was halted for {n} hours while inspectors checked the bridges.",
    "According to {org}, {n} percent of households in {region} were affected.",
    "The last comparable episode, in {year}, cost {country} almost {n} million euros.",
    "Talks resumed in {city} on {day} after a pause of {n} days, diplomats said.",
    "Opposition lawmakers in {country} demanded a hearing within {n} days.",
    "Volunteers in {city} distributed {n} tonnes of food and water on {day}.",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class BenchArticle:
    """One article as the ingest API takes it (`payload`) and its size in UTF-8 bytes."""

    index: int
    payload: dict[str, Any]

    @property
    def size(self) -> int:
        content = self.payload.get("text") or self.payload.get("html") or ""
        return len(str(content).encode())


def _person(rng: random.Random) -> tuple[str, str]:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    role, of = rng.choice(ROLES)
    place = {
        "region": rng.choice(REGIONS),
        "ministry": rng.choice(ORGS),
        "city": rng.choice(CITIES),
        "company": rng.choice(ORGS),
        "institute": rng.choice(ORGS),
        "army": rng.choice(COUNTRIES),
        None: rng.choice(COUNTRIES),
    }[of]
    return name, f"{role} of {place}" if of else f"{place}'s {role}"


def _paragraph(rng: random.Random, people: list[tuple[str, str]]) -> str:
    kind = rng.random()
    name, role = rng.choice(people)
    surname = name.split()[-1]
    if kind < 0.45:
        opinion = rng.choice(OPINIONS)
        verb = rng.choice(VERBS)
        if rng.random() < 0.5:
            return f"“{opinion},” {verb} {name}, the {role}."
        return f"{surname} {verb} that the response was “{opinion.lower()}.”"
    fact = rng.choice(FACTS).format(
        city=rng.choice(CITIES),
        org=rng.choice(ORGS),
        region=rng.choice(REGIONS),
        country=rng.choice(COUNTRIES),
        day=rng.choice(DAYS),
        n=rng.randint(2, 950),
        year=rng.randint(1998, 2021),
    )
    fact = fact[0].upper() + fact[1:]
    follow = (
        f" {surname}, who has held the post since {rng.randint(2010, 2022)}, "
        f"is expected to brief {rng.choice(ORGS)} later this week."
    )
    return fact + (follow if rng.random() < 0.4 else "")


def synth_article(index: int, rng: random.Random) -> BenchArticle:
    """Article `index`: a headline, a dek, a date line, then paragraphs up to a random size."""
    people = [_person(rng) for _ in range(rng.randint(2, 5))]
    topic, short = rng.choice(TOPICS)
    city = rng.choice(CITIES)
    lead_name, lead_role = people[0]
    headline = f"{lead_name} faces pressure over {topic} in {city}"
    dek = f"The {lead_role} defended the handling of {short} as critics in {city} pushed back."
    published = datetime(2022, 1, 1, 6, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 400_000))
    target = rng.randint(MIN_BYTES, MAX_BYTES - 600)
    paragraphs: list[str] = []
    size = 0
    while size < target:
        paragraph = _paragraph(rng, people)
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 2
    url = f"https://bench.newsflow.example/{published:%Y/%m/%d}/article-{index}"
    date_line = f"{published:%B} {published.day}, {published:%Y}"
    variant = index % 3
    payload: dict[str, Any]
    if variant == 0:
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        payload = {
            "html": (
                f"<html><head><title>{headline}</title></head><body><article>"
                f"<h1>{headline}</h1><p class='dek'>{dek}</p><time>{date_line}</time>"
                f"{body}</article></body></html>"
            ),
            "url": url,
        }
    elif variant == 1:
        payload = {
            "text": "\n\n".join([dek, *paragraphs]),
            "title": headline,
            "published_at": published.isoformat(),
            "url": url,
            "authors": [f"{rng.choice(FIRST)} {rng.choice(LAST)}"],
        }
    else:
        payload = {"text": "\n\n".join([headline, dek, date_line, *paragraphs]), "url": url}
    payload.update({"source": "bench.newsflow.example", "language": "en", "tags": [short]})
    return BenchArticle(index=index, payload=payload)


def sample_path() -> Path | None:
    """The sample article: NEWSFLOW_SAMPLE, else the copy in `tests/data/samples/`."""
    configured = os.environ.get("NEWSFLOW_SAMPLE")
    if configured:
        return Path(configured)
    candidate = Path(__file__).resolve().parents[1] / "tests" / "data" / "samples" / SAMPLE_NAME
    return candidate if candidate.is_file() else None


def make_articles(count: int, *, seed: int = SEED, run: str = "") -> list[BenchArticle]:
    """`count` articles, the same for a seed; `run` makes their URLs (hence ids) distinct.

    Every 50th article is the shared sample (with its own URL, so its id is unique too).
    """
    rng = random.Random(seed)
    sample = sample_path()
    sample_text = sample.read_text(encoding="utf-8") if sample else None
    articles: list[BenchArticle] = []
    for index in range(count):
        article = synth_article(index, rng)
        if sample_text is not None and index % 50 == 0:
            article = BenchArticle(
                index=index,
                payload={"text": sample_text, "url": "", "source": "bench.newsflow.example"},
            )
            article.payload["url"] = f"https://bench.newsflow.example/sample/{index}"
        if run:
            article.payload["url"] = f"{article.payload['url']}?run={run}"
        articles.append(article)
    return articles
