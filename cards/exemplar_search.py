"""Exemplar search results, one page at a time ("showing 11–20 of 43", Previous / Next)."""

from __future__ import annotations

from cards import elements as el
from cards.exemplar import exemplar_teaser
from cards.text_safety import escape_markdown
from cards.views import ExemplarSearchView

SEARCH_VERB = "searchExemplars"
SHARE_FORM_VERB = "exemplarForm"
MAX_PAGE_SIZE = 10


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def build_exemplar_search_card(view: ExemplarSearchView) -> dict:
    if view.page_size < 1:
        raise ValueError("page_size must be at least 1")
    query = escape_markdown(view.query, max_chars=80)
    results = view.results[: min(view.page_size, MAX_PAGE_SIZE)]
    pages = page_count(view.total, view.page_size)
    page = min(max(view.page, 1), pages)
    first = (page - 1) * view.page_size + 1
    last = first + len(results) - 1
    heading = f"Exemplars for “{query}”" if query else "Exemplars"
    body: list[el.Element] = [el.heading(heading)]
    if not results:
        body.append(el.text("No exemplars match. Try fewer words, or a subject such as **math** or **science**."))
    else:
        body.append(el.subtle(f"Showing {first}–{last} of {view.total}", spacing="None"))
        body += [exemplar_teaser(r) for r in results]
    actions: list[el.Element] = []
    if page > 1:
        actions.append(el.execute("Previous", SEARCH_VERB, {"query": view.query[:200], "page": page - 1}))
    if page < pages:
        actions.append(el.execute("Next", SEARCH_VERB, {"query": view.query[:200], "page": page + 1}))
    actions.append(el.execute("Share an exemplar", SHARE_FORM_VERB))
    return el.card(body, actions, fallback_text=f"{heading}: {view.total} found.")
