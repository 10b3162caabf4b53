"""JSON $batch with per-item retries, which the SDK does not do.

Graph evaluates every request inside a batch against its limits on its own (graph.md §2.2): a batch can
come back 200 with some items 429 or 503. Those items are sent again, in a smaller batch, after the
longest Retry-After among them (or backoff when none is given); the items that succeeded are kept.
Each item also spends its own request budget in the pacer, exactly as Graph counts it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from graph_ingest.errors import Retriable
from graph_ingest.fetch import TRANSIENT_STATUSES, GraphFetcher
from graph_ingest.retry_after import parse_retry_after

log = logging.getLogger("pli_pulse.ingest.batch")

MAX_BATCH = 20  # "JSON batch requests are currently limited to 20 individual requests."


@dataclass(frozen=True)
class BatchItem:
    id: str
    url: str  # relative to the API version root, e.g. "/education/classes/{id}/assignments/{id}/submissions"


@dataclass(frozen=True)
class ItemResult:
    id: str
    status: int
    body: dict


async def batch_get(
    fetcher: GraphFetcher,
    base_url: str,
    items: list[BatchItem],
    *,
    source: str,
    service: str,
    max_rounds: int = 8,
) -> dict[str, ItemResult]:
    """GET every item through $batch (20 per call); transient item failures are retried per item."""
    done: dict[str, ItemResult] = {}
    for start in range(0, len(items), MAX_BATCH):
        pending = items[start : start + MAX_BATCH]
        for attempt in range(1, max_rounds + 1):
            for _ in pending:  # each item costs its own request in the service's budget
                await fetcher.pacer.acquire(service)
            doc = await fetcher.get_json(_batch_request(base_url, pending), source=source, service=f"{service}.batch")
            responses = {r["id"]: r for r in doc.get("responses", ())}
            retry, waits = [], []
            stats = fetcher.stats_for(source)
            for item in pending:
                resp = responses.get(item.id)
                status = int(resp["status"]) if resp else 0
                stats.statuses[f"batch:{status}"] += 1
                if resp is not None and status not in TRANSIENT_STATUSES:
                    done[item.id] = ItemResult(item.id, status, resp.get("body") or {})
                    continue
                if status == 429:
                    stats.throttled += 1
                retry.append(item)
                headers: Mapping[str, str] = {k.lower(): v for k, v in ((resp or {}).get("headers") or {}).items()}
                waits.append(parse_retry_after(headers.get("retry-after")))
            if not retry:
                break
            if attempt == max_rounds:
                raise Retriable(f"{len(retry)} batch items still failing after {max_rounds} rounds")
            given = [w for w in waits if w is not None]
            wait = max(given) if given else min(60.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            stats.retries += 1
            stats.waited_s += wait
            log.info(
                "retrying batch items",
                extra={"source": source, "items": len(retry), "retry_after": max(given) if given else None,
                       "wait_s": round(wait, 3)},
            )  # fmt: skip
            await asyncio.sleep(wait)
            pending = retry
    return done


def _batch_request(base_url: str, items: list[BatchItem]) -> RequestInformation:
    info = RequestInformation()
    info.http_method = Method.POST
    info.url = f"{base_url}/$batch"
    info.headers.try_add("Content-Type", "application/json")
    info.content = orjson.dumps({"requests": [{"id": i.id, "method": "GET", "url": i.url} for i in items]})
    return info
