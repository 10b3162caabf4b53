"""The ingest signs in with each credential mode an admin can configure: certificate and managed identity.

Real azure-identity credentials (built by ``graph_ingest.client.make_credential``) against the simulated tenant:
a certificate registered on the app, and the App Service managed identity endpoint, found by azure-identity through
``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` as on a real host. Only the roster is read, to keep each run short.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from graph_ingest.pacing import PacingConfig
from graph_ingest.run import IngestOptions, IngestSummary
from graph_ingest.service import run_ingest
from pli_pulse.config import Settings
from simulator.district_files import write_pli_roster_csv
from simulator.generate import generate_district
from simulator.identity import demo_app, make_app_certificate
from simulator.serve import TenantHandle, start_tenant
from simulator.throttle import ThrottleConfig
from store import schema as s
from store.db import make_engine, upgrade
from tests.graph_ingest.test_ingest_against_simulator import KEY, SEED


def settings_for(handle: TenantHandle, tmp_path: Path, **graph) -> Settings:
    """Settings with no client secret at all, so only the credential under test can sign in."""
    return Settings(
        tenant_id=handle.tenant_id,
        graph_base_url=handle.graph_base_url.removesuffix("/v1.0"),
        graph_authority=handle.authority,
        database_url=f"sqlite:///{tmp_path / 'store.sqlite3'}",
        privacy_pseudonym_key=KEY,
        roster_file=tmp_path / "pli-roster.csv",
        **graph,
    )


def certificate_settings(handle: TenantHandle, tmp_path: Path, pem: Path) -> Settings:
    return settings_for(
        handle, tmp_path, graph_credentials="certificate", graph_client_id=handle.client_id, graph_certificate_path=pem
    )


def managed_identity_settings(handle: TenantHandle, tmp_path: Path, monkeypatch, *, header: str) -> Settings:
    """As on an Azure host: the identity endpoint and its header in the environment, the identity's client id."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", handle.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", header)
    return settings_for(handle, tmp_path, graph_credentials="managed_identity", graph_client_id=handle.msi_client_id)


async def ingest_roster(handle: TenantHandle, district, settings: Settings) -> tuple[IngestSummary, set[str]]:
    write_pli_roster_csv(district, settings.roster_file)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    options = IngestOptions(sources=("roster",), term_start=district.calendar.term_start, now=handle.tenant.clock.now)
    summary = await run_ingest(
        settings, engine, options=options, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file
    )
    with engine.connect() as conn:
        classes = set(conn.execute(select(s.classes.c.class_id)).scalars())
    return summary, classes


@pytest.fixture(scope="module")
def district():
    return generate_district(SEED, "small")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A certificate registered on the app and one the tenant has never seen, as PEM files with their keys."""
    folder = tmp_path_factory.mktemp("certificates")
    registered, stranger = make_app_certificate("registered"), make_app_certificate("stranger")
    (folder / "registered.pem").write_bytes(registered.pem_with_key)
    (folder / "stranger.pem").write_bytes(stranger.pem_with_key)
    return {"registered": folder / "registered.pem", "stranger": folder / "stranger.pem", "cert": registered}


def run_against_tenant(district, certificates, body):
    async def go():
        app = dataclasses.replace(demo_app(district.tenant_id), certificates=(certificates["cert"].cert_pem,))
        handle = await start_tenant(district, throttling=ThrottleConfig(enabled=False), app=app)
        try:
            return await body(handle)
        finally:
            await handle.stop()

    return asyncio.run(go())


def test_an_ingest_signed_in_with_a_registered_certificate_reads_the_whole_roster(district, certificates, tmp_path):
    async def body(handle):
        settings = certificate_settings(handle, tmp_path, certificates["registered"])
        return await ingest_roster(handle, district, settings)

    summary, classes = run_against_tenant(district, certificates, body)
    assert summary.status == "succeeded", summary.as_dict()
    roster = summary.sources["roster"]
    assert roster["status"] == "ok" and roster["statuses"].get("401", 0) == 0
    assert classes == set(district.classes)


def test_an_ingest_with_a_certificate_the_tenant_does_not_know_fails_and_tells_the_admin_what_to_do(
    district, certificates, tmp_path
):
    async def body(handle):
        settings = certificate_settings(handle, tmp_path, certificates["stranger"])
        return await ingest_roster(handle, district, settings)

    summary, classes = run_against_tenant(district, certificates, body)
    assert summary.status == "failed"
    roster = summary.sources["roster"]
    assert roster["status"] == "failed"
    message = roster["message"]
    assert "AADSTS700027" in message  # what Microsoft said, for a support ticket
    assert "PLI_GRAPH_CERTIFICATE_PATH" in message and "Certificates & secrets" in message  # what to do
    assert classes == set()


def test_an_ingest_on_a_host_with_a_managed_identity_reads_the_whole_roster(
    district, certificates, tmp_path, monkeypatch
):
    async def body(handle):
        settings = managed_identity_settings(handle, tmp_path, monkeypatch, header=handle.msi_header)
        return await ingest_roster(handle, district, settings)

    summary, classes = run_against_tenant(district, certificates, body)
    assert summary.status == "succeeded", summary.as_dict()
    assert summary.sources["roster"]["status"] == "ok"
    assert classes == set(district.classes)


def test_an_ingest_whose_managed_identity_endpoint_refuses_it_fails_and_tells_the_admin_what_to_do(
    district, certificates, tmp_path, monkeypatch
):
    async def body(handle):
        header = "a-header-from-before-the-host-restarted"
        settings = managed_identity_settings(handle, tmp_path, monkeypatch, header=header)
        return await ingest_roster(handle, district, settings)

    summary, classes = run_against_tenant(district, certificates, body)
    assert summary.status == "failed"
    message = summary.sources["roster"]["message"]
    assert "managed identity" in message and "X-IDENTITY-HEADER" in message
    assert classes == set()


def onenote_ingest(handle, district, settings: Settings):
    """A full ingest of the roster and OneNote with the first class's teacher's delegated grant."""
    from graph_ingest.service import DelegatedGrant

    async def go():
        write_pli_roster_csv(district, settings.roster_file)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        teacher = next(iter(district.classes.values())).teacher_ids[0]
        grant = DelegatedGrant(handle.identity.mint_user_assertion(teacher))
        options = IngestOptions(
            sources=("roster", "onenote"), term_start=district.calendar.term_start, now=handle.tenant.clock.now
        )
        summary = await run_ingest(
            settings, engine, options=options, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file, grant=grant
        )
        with engine.connect() as conn:
            tools = set(conn.execute(select(s.activity_events.c.tool)).scalars())
        return summary, tools

    return go()


def test_a_teachers_onenote_grant_is_exchanged_with_the_certificate_when_the_app_signs_in_with_one(
    district, certificates, tmp_path
):
    async def body(handle):
        settings = certificate_settings(handle, tmp_path, certificates["registered"])
        return await onenote_ingest(handle, district, settings)

    summary, tools = run_against_tenant(district, certificates, body)
    assert summary.status == "succeeded", summary.as_dict()
    assert summary.sources["onenote"]["status"] == "ok", summary.sources["onenote"]
    assert tools == {"onenote"}


def test_with_a_managed_identity_onenote_is_skipped_with_what_to_change_and_the_roster_still_read(
    district, certificates, tmp_path, monkeypatch
):
    async def body(handle):
        settings = managed_identity_settings(handle, tmp_path, monkeypatch, header=handle.msi_header)
        return await onenote_ingest(handle, district, settings)

    summary, tools = run_against_tenant(district, certificates, body)
    onenote = summary.sources["onenote"]
    assert onenote["status"] == "skipped"
    assert "managed identity" in onenote["message"] and "PLI_GRAPH_CREDENTIALS=certificate" in onenote["message"]
    assert summary.sources["roster"]["status"] == "ok"
    assert tools == set()
