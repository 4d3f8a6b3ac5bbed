"""The sample article shipped with the tests, and the officials a reader finds in it."""

from __future__ import annotations

from pathlib import Path

SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "kherson-surrender-2022-09-13.txt"
)
# The ten officials quoted or named, each to be a PERSON under their full name.
OFFICIALS = (
    "Volodymyr Zelensky",
    "Vladimir Putin",
    "Dmitry Peskov",
    "Nataliya Humeniuk",
    "Kirill Stremousov",
    "Konstantin Zatulin",
    "Andrey Yusov",
    "Oleksiy Arestovich",
    "Oleh Syniehubov",
    "Taras Berezovets",
)
