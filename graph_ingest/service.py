"""Running an ingest from configuration: the edge where settings, credentials and the store meet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from graph_ingest.client import entra_options, make_graph_client
from graph_ingest.errors import ManagedIdentityCannotActForTeachers
from graph_ingest.fetch import GraphFetcher
from graph_ingest.pacing import Limit, Pacer, PacingConfig
from graph_ingest.people import PersonKeys
from graph_ingest.run import Ingest, IngestOptions, IngestSummary, Progressor
from graph_ingest.sources.pli_roster import read_pli_roster_csv
from pli_pulse.config import Settings
from pli_pulse.gc_pause import fewer_gc_passes
from pli_pulse.pseudonym import pseudonymizer_from_settings
from store.retention import purge_expired


@dataclass(frozen=True)
class DelegatedGrant:
    """A teacher's delegated sign-in, exchanged on-behalf-of for Graph tokens (OneNote needs one)."""

    user_assertion: str


def delegated_credential(settings: Settings, grant: DelegatedGrant, ca_bundle: Path | None):
    """The on-behalf-of exchange, signed the same way as the app's own sign-in (secret or certificate).

    A managed identity holds no secret the exchange could use, so with one no delegated client is made and
    OneNote is reported as skipped, with what to change.
    """
    from azure.identity.aio import OnBehalfOfCredential

    extra = entra_options(settings, ca_bundle)
    if settings.graph_credentials == "certificate":
        extra["client_certificate"] = Path(settings.graph_certificate_path).read_bytes()
    else:
        extra["client_secret"] = settings.graph_client_secret.get_secret_value() if settings.graph_client_secret else ""
    return OnBehalfOfCredential(
        settings.tenant_id, settings.graph_client_id, user_assertion=grant.user_assertion, **extra
    )


async def run_ingest(
    settings: Settings,
    engine: Engine,
    *,
    options: IngestOptions,
    pacing: PacingConfig | None = None,
    ca_bundle: Path | None = None,
    grant: DelegatedGrant | None = None,
    progress: Progressor | None = None,
) -> IngestSummary:
    pacing = pacing or PacingConfig()
    roster_rows = read_pli_roster_csv(settings.roster_file) if settings.roster_file else []
    conn = make_graph_client(settings, ca_bundle=ca_bundle)
    delegated, refusal = None, None
    if grant is not None and settings.graph_credentials == "managed_identity":
        refusal = ManagedIdentityCannotActForTeachers()
    elif grant is not None:
        delegated = make_graph_client(settings, credential=delegated_credential(settings, grant, ca_bundle))
    try:
        ingest = Ingest(
            engine=engine,
            client=conn.client,
            fetcher=GraphFetcher(conn.adapter, Pacer(pacing)),
            person_keys=PersonKeys(pseudonymizer_from_settings(settings)),
            pli_roster=roster_rows,
            options=options,
            delegated_fetcher=GraphFetcher(delegated.adapter, Pacer(pacing), concurrency=5) if delegated else None,
            delegated_client=delegated.client if delegated else None,
            delegated_refusal=refusal,
            progress=progress,
        )
        with fewer_gc_passes():
            summary = await ingest.run()
        if summary.status == "succeeded":
            summary.retention = purge_expired(engine, settings.privacy_retention_days, now=options.now)
        return summary
    finally:
        await conn.aclose()
        if delegated is not None:
            await delegated.aclose()


__all__ = ["DelegatedGrant", "Limit", "run_ingest"]
