"""Following @odata.nextLink to the @odata.deltaLink ourselves.

msgraph-core's PageIterator stops at the first empty page and loses the deltaLink (graph.md §4.3).
Here an empty page with a nextLink is simply followed, even when it hands back the very link just read
(Graph's advice for such pages is to keep following; microsoft-graph-docs-contrib#1316), up to
``MAX_SAME_LINK`` times. A link that comes back after a page *with* items is a server loop and an error,
as is one repeated past that bound; either would otherwise spin forever. The caller gets each page as it
arrives, so it can store the page's events together with the link that continues after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from graph_ingest.errors import Fatal

MAX_SAME_LINK = 20  # times an empty page may hand back a link already followed


@dataclass(frozen=True)
class Page:
    doc: dict
    next_link: str | None
    delta_link: str | None

    @property
    def resume_link(self) -> str | None:
        """Where to continue after this page: the next page, or the delta link for the next run."""
        return self.next_link or self.delta_link


class PagingLoop(Fatal):
    def __init__(self, link: str):
        super().__init__(
            f"Graph returned the same nextLink twice: {link.split('?', 1)[0]}",
            "Microsoft Graph sent the same page link twice, so the ingest stopped that source instead of looping. "
            "Run the ingest again; if it repeats, run it with --full for that source.",
        )


async def pages(get: Callable[[object], Awaitable[dict]], first: object) -> AsyncIterator[Page]:
    """Yield every page from ``first`` (a request or a saved link) until a page has no nextLink."""
    seen: Counter[str] = Counter()
    request = first
    while True:
        doc = await get(request)
        page = Page(doc, doc.get("@odata.nextLink"), doc.get("@odata.deltaLink"))
        yield page
        if not page.next_link:
            return
        seen[page.next_link] += 1
        if seen[page.next_link] > 1 and (doc.get("value") or seen[page.next_link] > MAX_SAME_LINK):
            raise PagingLoop(page.next_link)
        request = page.next_link
