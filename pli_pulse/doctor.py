"""`pli-pulse doctor`: one actionable line per thing that has to be right before PLI Pulse can run."""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
from sqlalchemy import text

from pli_pulse.config import Settings, redact_url_password
from pli_pulse.school_calendar import SchoolCalendar
from store.db import current_revision, head_revision, make_engine


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_config(settings: Settings, source: str) -> Check:
    return Check("configuration", Status.OK, f"valid, read from {source}")


def check_database(settings: Settings) -> Check:
    shown = redact_url_password(settings.database_url)
    try:
        engine = make_engine(settings.database_url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        rev = current_revision(engine)
        engine.dispose()
    except Exception as exc:  # any driver error is reported the same way: not reachable
        return Check(
            "database",
            Status.FAIL,
            f"cannot connect to {shown}: {type(exc).__name__}",
            "Check PLI_DATABASE_URL, that the server is running and that the user may connect.",
        )
    head = head_revision()
    if rev != head:
        return Check(
            "database",
            Status.FAIL,
            f"{shown} is at migration {rev or 'none'}, the code needs {head}",
            "Run: pli-pulse db upgrade",
        )
    return Check("database", Status.OK, f"{shown} at migration {rev}")


def check_pseudonym_key(settings: Settings) -> Check:
    if settings.privacy_pseudonym_key is not None and settings.privacy_pseudonym_key.get_secret_value():
        return Check("pseudonym key", Status.OK, "set in configuration (PLI_PRIVACY_PSEUDONYM_KEY)")
    path = settings.privacy_pseudonym_key_file
    if not path.exists():
        return Check(
            "pseudonym key",
            Status.WARN,
            f"{path} does not exist yet; it is created (mode 0600) on first use",
            "Back it up once created: losing it splits every student's history in two.",
        )
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        return Check(
            "pseudonym key",
            Status.FAIL,
            f"{path} is readable by others (mode {mode:o})",
            f"Run: chmod 600 {path}",
        )
    return Check("pseudonym key", Status.OK, f"{path} (mode 600)")


def check_graph_credentials(settings: Settings) -> Check:
    missing = []
    if not settings.tenant_id:
        missing.append("PLI_TENANT_ID")
    if settings.graph_credentials != "managed_identity" and not settings.graph_client_id:
        missing.append("PLI_GRAPH_CLIENT_ID")
    if settings.graph_credentials == "client_secret" and settings.graph_client_secret is None:
        missing.append("PLI_GRAPH_CLIENT_SECRET")
    if settings.graph_credentials == "certificate":
        if settings.graph_certificate_path is None:
            missing.append("PLI_GRAPH_CERTIFICATE_PATH")
        elif not settings.graph_certificate_path.exists():
            return Check(
                "graph credentials",
                Status.FAIL,
                f"certificate file {settings.graph_certificate_path} does not exist",
                "Point PLI_GRAPH_CERTIFICATE_PATH at the PEM file of the app registration's certificate.",
            )
    if missing:
        return Check(
            "graph credentials",
            Status.FAIL,
            f"{settings.graph_credentials} mode needs {', '.join(missing)}",
            "See README, 'Connect a real tenant', for the Entra app registration.",
        )
    return Check("graph credentials", Status.OK, f"{settings.graph_credentials} for tenant {settings.tenant_id}")


async def _probe(url: str, timeout: float) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        return resp.status


def check_graph_reachable(settings: Settings, timeout: float = 5.0) -> Check:
    url = f"{settings.graph_v1_url}/$metadata"
    try:
        status = asyncio.run(_probe(url, timeout))
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Check(
            "graph reachable",
            Status.FAIL,
            f"no answer from {settings.graph_base_url} ({type(exc).__name__})",
            "Check outbound HTTPS from this host (proxy, firewall), or PLI_GRAPH_BASE_URL.",
        )
    # Any HTTP answer, even 401, proves the network path; credentials are checked by the ingest.
    return Check("graph reachable", Status.OK, f"{settings.graph_base_url} answered HTTP {status}")


def check_bot(settings: Settings) -> Check:
    if settings.bot_app_id and settings.bot_app_password is not None:
        return Check("bot credentials", Status.OK, f"app id {settings.bot_app_id} ({settings.bot_app_type})")
    if settings.bot_dangerously_allow_unauthenticated_requests:
        return Check(
            "bot credentials",
            Status.WARN,
            "no app id: the bot accepts unauthenticated requests (local demo mode only)",
            "Never expose this to a network. Set PLI_BOT_APP_ID and PLI_BOT_APP_PASSWORD for Teams.",
        )
    return Check(
        "bot credentials",
        Status.FAIL,
        "PLI_BOT_APP_ID and PLI_BOT_APP_PASSWORD are not set",
        "Create an Azure Bot resource and copy its Microsoft App ID and a client secret (README, 'Bot registration').",
    )


def check_calendar(settings: Settings) -> Check:
    days = SchoolCalendar.from_settings(settings).school_days()
    if not days:
        return Check(
            "school calendar",
            Status.FAIL,
            "the term has no school days",
            "Check [calendar] term_start, term_end, school_weekdays and holidays.",
        )
    return Check(
        "school calendar",
        Status.OK,
        f"{len(days)} school days from {days[0]} to {days[-1]} in {settings.calendar_timezone}, "
        f"{len(settings.calendar_holidays)} holidays",
    )


def run_checks(settings: Settings, source: str, *, skip: dict[str, str] | None = None) -> list[Check]:
    """Run every check; ``skip`` maps a check name to the reason it is not run here."""
    skip = skip or {}
    checks = [
        ("configuration", lambda: check_config(settings, source)),
        ("database", lambda: check_database(settings)),
        ("pseudonym key", lambda: check_pseudonym_key(settings)),
        ("school calendar", lambda: check_calendar(settings)),
        ("graph credentials", lambda: check_graph_credentials(settings)),
        ("graph reachable", lambda: check_graph_reachable(settings)),
        ("bot credentials", lambda: check_bot(settings)),
    ]
    return [Check(name, Status.SKIP, skip[name]) if name in skip else run() for name, run in checks]
