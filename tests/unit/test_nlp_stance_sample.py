"""Stances on the sample article that a reader would dispute must not appear."""

from __future__ import annotations

import pytest

from newsflow_enrich.nlp import Analysis, Document, NlpConfig, load_enricher
from newsflow_schema import Stance
from tests.support.sample import OFFICIALS, SAMPLE

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def stances() -> dict[tuple[str, str], Stance]:
    if not SAMPLE.is_file():
        pytest.skip(f"sample article not found at {SAMPLE}")
    body = SAMPLE.read_text("utf-8")
    analysis: Analysis = load_enricher(NlpConfig()).enrich([Document(key="s", body=body)])[0]
    return {(s.holder, s.target): s for s in analysis.stances}


@pytest.mark.parametrize(
    ("holder", "target"),
    [
        # "surrender" in these sentences is about the Russian forces.
        ("article", "Ukraine"),
        ("article", "Volodymyr Zelensky"),
        # "Ukraine does not have enough room to accommodate them" (prisoners) is a boast.
        ("Oleksiy Arestovich", "Ukraine"),
        # "Kherson is and will be a Russian city": the pro-Russian Kherson chief defends it.
        ("Kirill Stremousov", "Kherson"),
    ],
)
def test_no_against_a_reader_would_dispute(
    stances: dict[tuple[str, str], Stance], holder: str, target: str
) -> None:
    stance = stances.get((holder, target))
    assert stance is None or stance.label != "against", stance


def test_a_nationality_adjective_is_no_target(stances: dict[tuple[str, str], Stance]) -> None:
    # "Russian president Vladimir Putin": "Russian" only modifies "president".
    assert not [s for (h, t), s in stances.items() if h == "Dmitry Peskov" and t == "Russian"]
    assert "Russian" not in {t for _, t in stances}


def test_places_used_as_places_get_no_stance(stances: dict[tuple[str, str], Stance]) -> None:
    # Kharkiv is only ever where things happen; Kherson too, but in Stremousov's quote.
    assert "Kharkiv" not in {t for _, t in stances}
    assert ("article", "Kherson") not in stances


def test_every_official_is_a_stance_target(stances: dict[tuple[str, str], Stance]) -> None:
    targets = {t for _, t in stances}
    missing = [name for name in OFFICIALS if name not in targets]
    assert not missing, missing
