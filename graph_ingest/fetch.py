"""The fast path for bulk Graph pages, with pacing and retries.

Requests are built with msgraph-sdk's request builders (or are a nextLink/deltaLink taken whole) and go
through the SDK's request adapter, so authentication and the SDK middleware stay in charge of the wire.
The response comes back as the native httpx response (kiota's NativeResponseHandler) and is decoded
with orjson into plain dicts: typed SDK models cost ~3 ms of CPU per message (graph.md §4.5).

Retries are ours, on purpose: the SDK's RetryHandler is switched off in ``client.py`` because it cannot
read decimal Retry-After values, gives up on long waits, and never retries items inside a $batch.
Here Retry-After is honoured in every form, and its absence falls back to exponential backoff with
jitter (tenacity), capped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from kiota_abstractions.method import Method
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_adapter import RequestAdapter
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options.response_handler_option import ResponseHandlerOption
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from graph_ingest.errors import DelegatedTokenRequired, Fatal, Retriable, SignInFailed, Skippable, sign_in_failed
from graph_ingest.pacing import Pacer
from graph_ingest.retry_after import parse_retry_after

log = logging.getLogger("pli_pulse.ingest.fetch")

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}


class CursorExpired(Skippable):
    """A saved delta link is no longer accepted (410 Gone / resync required): start that scope again."""


class Forbidden(Skippable):
    def __init__(self, reason: str, code: str | None):
        super().__init__(reason)
        self.code = code


class NotFound(Skippable):
    pass


@dataclass
class SourceStats:
    """What one source cost; stored in the run record and printed in the summary."""

    requests: int = 0
    pages: int = 0
    events: int = 0
    throttled: int = 0  # 429 responses (including per-item ones inside $batch)
    retries: int = 0
    waited_s: float = 0.0
    statuses: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "pages": self.pages,
            "events": self.events,
            "throttled_429": self.throttled,
            "retries": self.retries,
            "retry_wait_s": round(self.waited_s, 3),
            # Keys mix HTTP statuses (int) with "connection"/"bad_json" (str): sort them as text.
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=lambda kv: str(kv[0]))},
        }


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    backoff_base: float = 0.5  # seconds; doubled per attempt, with full jitter
    backoff_max: float = 60.0


def _wait(policy: RetryPolicy):
    fallback = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retriable) and exc.retry_after is not None:
            return exc.retry_after  # the server said how long; honour it exactly
        return fallback(state)

    return wait


def error_code(body: bytes) -> tuple[str | None, str]:
    try:
        err = orjson.loads(body).get("error") or {}
        return err.get("code"), err.get("message") or ""
    except (orjson.JSONDecodeError, AttributeError):
        return None, ""


def classify(status: int, headers: httpx.Headers, body: bytes, url: str, service: str) -> None:
    """Raise the exception that says what to do about a non-2xx response."""
    if 200 <= status < 300:
        return
    code, message = error_code(body)
    where = url.split("?", 1)[0]
    if status in TRANSIENT_STATUSES:
        raise Retriable(
            f"HTTP {status} from {where}", status=status, retry_after=parse_retry_after(headers.get("Retry-After"))
        )
    if status == 401:
        raise Fatal(
            f"HTTP 401 {code} from {where}",
            "Microsoft Graph did not accept PLI Pulse's sign-in. Check PLI_TENANT_ID, PLI_GRAPH_CLIENT_ID and the "
            "client secret or certificate (it may have expired), then run: pli-pulse doctor",
        )
    if status == 403 and service == "onenote" and ("app-only" in message.lower() or "apponly" in (code or "").lower()):
        raise DelegatedTokenRequired(f"HTTP 403 {code} from {where}: {message}")
    if status == 403:
        raise Forbidden(f"HTTP 403 {code} from {where}: {message}", code)
    if status == 404:
        raise NotFound(f"HTTP 404 from {where}")
    if status == 410 or (status == 400 and code and "sync" in code.lower()):
        raise CursorExpired(f"HTTP {status} {code} from {where}")
    raise Fatal(
        f"HTTP {status} {code} from {where}: {message}",
        f"Microsoft Graph answered HTTP {status} ({code or 'no code'}) for {where}. "
        "This is unexpected; run again with --log-level DEBUG and send the log to your PLI Pulse contact.",
    )


_AADSTS = re.compile(r"AADSTS(\d+):[^\r\n]*")  # Entra's first line; Trace ID etc. follow on the next
_ENTRA_TOKEN_PATH = re.compile(r"/oauth2/(v2\.0/)?token$")


def credential_failure(exc: ClientAuthenticationError) -> SignInFailed:
    """Classify a credential's refusal to produce a token (azure-identity raises it from inside the request).

    Entra's answers carry an AADSTS code; a managed identity endpoint (App Service, IMDS, Arc) answers in its own
    words, and is recognised by the URL the credential called.
    """
    text = str(exc.message or exc)
    request = getattr(getattr(exc, "response", None), "request", None)
    path = httpx.URL(str(request.url)).path if request is not None else ""
    managed = isinstance(exc, CredentialUnavailableError) or (
        bool(path) and (path.startswith("/metadata/identity/") or not _ENTRA_TOKEN_PATH.search(path))
    )
    found = _AADSTS.search(text)
    if found:
        detail = found.group(0).strip().removesuffix("'")  # azure-identity quotes Entra's description
        return sign_in_failed(detail, code=int(found.group(1)), managed_identity=managed)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return sign_in_failed(first.removeprefix("(None) "), code=None, managed_identity=managed)


class GraphFetcher:
    """GET JSON pages from Graph: paced, bounded in concurrency, retried, counted."""

    def __init__(
        self,
        adapter: RequestAdapter,
        pacer: Pacer,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 16,
    ):
        self.adapter = adapter
        self.pacer = pacer
        self.policy = policy or RetryPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self.stats: dict[str, SourceStats] = {}

    def stats_for(self, source: str) -> SourceStats:
        return self.stats.setdefault(source, SourceStats())

    @staticmethod
    def request_for(url: str) -> RequestInformation:
        """A request for a full URL, such as a nextLink or deltaLink, which must be used as given."""
        info = RequestInformation()
        info.http_method = Method.GET
        info.url = url
        return info

    async def get_json(
        self, request: RequestInformation | str, *, source: str, service: str, scope: str | None = None
    ) -> dict:
        info = self.request_for(request) if isinstance(request, str) else request
        info.headers.try_add("Accept", "application/json")
        info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        stats = self.stats_for(source)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            stats.retries += 1
            stats.waited_s += wait
            log.info(
                "retrying Graph request",
                extra={
                    "source": source,
                    "attempt": state.attempt_number,
                    "reason": str(exc),
                    "retry_after": getattr(exc, "retry_after", None),
                    "wait_s": round(wait, 3),
                },
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Retriable),
            wait=_wait(self.policy),
            stop=stop_after_attempt(self.policy.max_attempts),
            before_sleep=before_sleep,
            reraise=True,
        ):
            with attempt:
                async with self._slots:
                    # Pace only once a connection slot is ours, so the request leaves right when the
                    # budget allows it: pacing first and queueing after would let requests bunch up.
                    await self.pacer.acquire(service, scope)
                    stats.requests += 1
                    try:
                        resp: httpx.Response = await self.adapter.send_primitive_async(info, "bytes", {})
                        body = resp.content
                    except (httpx.TransportError, httpx.DecodingError) as exc:  # resets, truncated bodies
                        stats.statuses["connection"] += 1
                        raise Retriable(f"{type(exc).__name__} talking to Graph") from exc
                    except ClientAuthenticationError as exc:  # the credential got no token: nothing was sent
                        stats.statuses["sign_in"] += 1
                        raise credential_failure(exc) from exc
                stats.statuses[resp.status_code] += 1
                if resp.status_code == 429:
                    stats.throttled += 1
                classify(resp.status_code, resp.headers, body, str(resp.request.url), service)
                try:
                    doc = orjson.loads(body)
                except orjson.JSONDecodeError as exc:  # a body cut short without a Content-Length
                    stats.statuses["bad_json"] += 1
                    raise Retriable("Graph sent an incomplete JSON body") from exc
        stats.pages += 1
        return doc
