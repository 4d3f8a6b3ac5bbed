"""Schemathesis over ingest's OpenAPI, in process with a fake publisher: no 5xx, as documented."""

from __future__ import annotations

import pytest
import schemathesis

from newsflow_ingest.app import build_app
from tests.support.fuzz import fuzz
from tests.unit.test_ingest_api import FakePublisher, make_settings

pytestmark = pytest.mark.unit


def test_every_ingest_operation_conforms_and_never_answers_5xx() -> None:
    app = build_app(make_settings(), publisher=FakePublisher())
    ran = fuzz(schemathesis.openapi.from_asgi("/openapi.json", app), max_examples=60)
    assert "POST /v1/articles" in ran and "POST /v1/articles:batch" in ran
