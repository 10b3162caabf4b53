"""Every card kind by name, and the demo cards built from ``cards.demo_data``."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from cards.class_summary import EXEMPLARS_VERB, REFRESH_VERB, build_class_summary_card
from cards.digest import PRIVATE_VERB, build_digest_card
from cards.error import build_error_card
from cards.exemplar import VOTE_VERB, build_exemplar_card
from cards.exemplar_form import SUBMIT_VERB, build_exemplar_form_card
from cards.exemplar_search import SEARCH_VERB, SHARE_FORM_VERB, build_exemplar_search_card
from cards.welcome import build_welcome_card

BUILDERS: MappingProxyType[str, Callable[..., dict]] = MappingProxyType(
    {
        "class_summary": build_class_summary_card,
        "digest": build_digest_card,
        "exemplar": build_exemplar_card,
        "exemplar_form": build_exemplar_form_card,
        "exemplar_search": build_exemplar_search_card,
        "welcome": build_welcome_card,
        "error": build_error_card,
    }
)


#: Every verb a card sends back (Action.Execute ``verb``, and ``data["verb"]`` of its Action.Submit fallback), with
#: the other ``data`` keys it carries. The bot routes on these; inputs (the exemplar form) arrive merged into data.
VERBS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        REFRESH_VERB: ("classId",),  # no classId (welcome card): all of the teacher's classes
        EXEMPLARS_VERB: ("classId", "measure", "practice"),  # measure/practice absent when nothing is shown
        PRIVATE_VERB: ("communityId",),  # card refresh (user-specific view) and the "Show my classes" button
        VOTE_VERB: ("exemplarId",),
        SUBMIT_VERB: (
            "title",
            "url",
            "description",
            "why_it_works",
            "subject",
            "grade_band",
            "practice",
            "communities",
        ),  # check with exemplar_form.validate_exemplar_submission
        SEARCH_VERB: ("query", "page"),
        SHARE_FORM_VERB: (),  # send build_exemplar_form_card
    }
)


def demo_cards(user_text: str | None = None) -> dict[str, dict]:
    """name -> card JSON for every demo scenario (see ``cards.demo_data.demo_views``)."""
    from cards.demo_data import demo_views

    return {name: BUILDERS[kind](*args) for name, (kind, *args) in demo_views(user_text).items()}
