"""The welcome / help card: sent on install and as the answer to a command the bot does not know."""

from __future__ import annotations

from cards import elements as el
from cards.class_summary import REFRESH_VERB
from cards.exemplar_search import SEARCH_VERB, SHARE_FORM_VERB
from cards.text_safety import escape_markdown
from cards.views import WelcomeView


def build_welcome_card(view: WelcomeView) -> dict:
    greeting = f"Hi {escape_markdown(view.user_name, max_chars=64)}!" if view.user_name else "Hi!"
    body: list[el.Element] = []
    if view.unknown_command is not None:
        cmd = escape_markdown(view.unknown_command, max_chars=80)
        body.append(el.text(f"I didn't understand “{cmd}”. Here is what I can do.", color="Attention", weight="Bolder"))
    body += [
        el.heading(f"{greeting} I'm PLI Pulse."),
        el.text(
            "Each week I show how your classes use formative assessment and collaborate in Teams, Forms, "
            "Assignments and OneNote, and share exemplar activities from PLI coaches. "
            "Students are never named, and small groups are never shown as numbers.",
            spacing="Small",
        ),
        el.subheading("Try typing"),
        el.facts(
            [
                (escape_markdown(c.command, max_chars=40), escape_markdown(c.what, max_chars=100))
                for c in view.commands[:10]
            ]
        ),
    ]
    actions = [
        el.execute("My summary", REFRESH_VERB),
        el.execute("Find exemplars", SEARCH_VERB, {"query": "", "page": 1}),
        el.execute("Share an exemplar", SHARE_FORM_VERB),
    ]
    return el.card(body, actions, fallback_text="PLI Pulse: type help to see what I can do.")
