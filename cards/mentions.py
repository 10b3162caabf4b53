"""Teacher mentions that a card builder makes on purpose, and the msteams.entities that go with them.

Teams turns ``<at>Label</at>`` in a TextBlock into a mention only when msteams.entities holds an entity with that
exact text. The builder is the only source of entities, and user text is escaped (``\\<at\\>``), so typed text can never
match one.
"""

from __future__ import annotations

from cards.text_safety import escape_markdown, mention_label
from cards.views import TeacherRef


class MentionBook:
    """Collects the mentions of one card (local to one pure builder call)."""

    def __init__(self) -> None:
        self._text_by_id: dict[str, str] = {}
        self._id_by_text: dict[str, str] = {}
        self._entities: list[dict] = []

    def mention(self, teacher: TeacherRef) -> str:
        """Markdown that mentions ``teacher``; the plain escaped name when another teacher already has that label
        (two entities with one text would be ambiguous in Teams)."""
        if teacher.id in self._text_by_id:
            return self._text_by_id[teacher.id]
        label = mention_label(teacher.name)
        text = f"<at>{label}</at>"
        if text in self._id_by_text:
            return escape_markdown(teacher.name, max_chars=64)
        self._text_by_id[teacher.id] = text
        self._id_by_text[text] = teacher.id
        self._entities.append({"type": "mention", "text": text, "mentioned": {"id": teacher.id, "name": label}})
        return text

    def msteams(self, **extra: object) -> dict:
        out: dict = dict(extra)
        if self._entities:
            out["entities"] = list(self._entities)
        return out
