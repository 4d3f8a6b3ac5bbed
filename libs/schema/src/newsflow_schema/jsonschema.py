"""Export the JSON Schema of every event model to checked-in files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from newsflow_schema import topics
from newsflow_schema.events import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    DeadLetterEvent,
    Event,
)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "jsonschema"

FILES: dict[str, type[Event]] = {
    f"{topics.RAW}.json": ArticleRawEvent,
    f"{topics.ENRICHED}.json": ArticleEnrichedEvent,
    f"{topics.DLQ}.json": DeadLetterEvent,
}


def render(model: type[Event]) -> str:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["x-cloudevents-type"] = model.EVENT_TYPE
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are out of date")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, model in FILES.items():
        path: Path = args.dir / name
        text = render(model)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("JSON Schemas out of date (run `make schemas`):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
