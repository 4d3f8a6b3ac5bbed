"""Short, realistic, unique articles for load: deterministic per (run, index)."""

from __future__ import annotations

import random
from typing import Any

PEOPLE = [
    ("Maria Kovalenko", "the regional governor"),
    ("Daniel Okafor", "a spokesman for the transport ministry"),
    ("Helen Brandt", "the chief executive of Nordwerk"),
    ("Samuel Reyes", "the opposition leader"),
    ("Aiko Tanaka", "an economist at the central bank"),
    ("Peter Lindqvist", "the head coach"),
]
PLACES = ["Lviv", "Rotterdam", "Nairobi", "Osaka", "Valencia", "Gdansk", "Porto Alegre"]
TOPICS = [
    ("port strike", "Dock workers walked out for a third day, halting container traffic."),
    ("flood defences", "Heavy rain overwhelmed drainage along the river on Tuesday."),
    ("rail tender", "The contract for the new line drew four bidders."),
    ("budget vote", "Lawmakers debated spending cuts late into the night."),
    ("cup final", "The home side came from behind to win in extra time."),
]
QUOTES = [
    "We will not accept a deal that leaves families worse off.",
    "The numbers speak for themselves, and they are not good.",
    "This is a turning point for the whole region.",
    "Nobody was consulted, and that is a failure of leadership.",
    "We expect the situation to improve within weeks.",
]


def article(run: str, index: int) -> dict[str, Any]:
    """One article as POST /v1/articles takes it; the URL makes its id unique per run."""
    rng = random.Random(f"{run}:{index}")
    (name, role), (other, other_role) = rng.sample(PEOPLE, 2)
    place = rng.choice(PLACES)
    topic, lead = rng.choice(TOPICS)
    q1, q2 = rng.sample(QUOTES, 2)
    surname = name.split()[-1]
    body = "\n\n".join(
        [
            f"{place.upper()} — {lead} Officials in {place} said talks would resume on Friday.",
            f'"{q1}" said {name}, {role}. "{q2}"',
            f"{other}, {other_role}, disagreed. {other.split()[-1]} said that the plan for the "
            f"{topic} had been discussed for months and that {surname} knew the details.",
            f"Report {index} of run {run}: figures released by the city of {place} showed "
            f"{rng.randint(2, 98)} percent of residents affected.",
        ]
    )
    return {
        "title": f"{place} {topic}: {surname} warns as talks stall ({run}-{index})",
        "text": body,
        "url": f"https://fault.example.org/{run}/{index}",
        "source": "newsflow-fault-tests",
        "published_at": "2024-05-14T09:00:00Z",
    }
