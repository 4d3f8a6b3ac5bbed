"""Which enriched events `newsflow tail` shows: entity, label, stance, speaker, article."""

from __future__ import annotations

from dataclasses import dataclass

from newsflow_schema import ArticleEnrichedEvent, Entity


def _contains(haystack: str | None, needle: str) -> bool:
    return haystack is not None and needle.casefold() in haystack.casefold()


@dataclass(frozen=True, slots=True)
class EventFilter:
    """All given conditions must hold; names match case-insensitively as substrings.

    `entity` and `label` together ask for one entity with both ("Putin" as PERSON);
    `stance` with `entity` asks for that stance toward that entity, as the read API does.
    """

    entity: str | None = None
    label: str | None = None
    stance: str | None = None
    speaker: str | None = None
    article: str | None = None

    def _entity_matches(self, entity: Entity) -> bool:
        if self.entity is not None and not _contains(entity.name, self.entity):
            return False
        return self.label is None or entity.label == self.label.upper()

    def matches(self, event: ArticleEnrichedEvent) -> bool:
        if self.article is not None and str(event.article_id) != self.article.lower():
            return False
        if (self.entity is not None or self.label is not None) and not any(
            self._entity_matches(e) for e in event.entities
        ):
            return False
        if self.stance is not None and not any(
            s.label == self.stance and (self.entity is None or _contains(s.target, self.entity))
            for s in event.stances
        ):
            return False
        return self.speaker is None or any(
            _contains(q.speaker, self.speaker) or _contains(q.speaker_entity, self.speaker)
            for q in event.quotes
        )
