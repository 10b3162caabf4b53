"""Start and stop the simulated district tenant on loopback (``pli-pulse simulate serve``).

Two listeners share one aiohttp app: plain HTTP for Graph (kiota allows http for 127.0.0.1) and HTTPS with a
throwaway local CA for the login endpoints (azure-identity/MSAL require an https authority). Both serve every route.

Admin (no auth, loopback only): ``POST /_sim/clock {"now": "<ISO instant>"}`` moves simulated time forward,
``GET /_sim/clock`` reads it, ``GET /_sim/stats`` returns request/429/failure counts per route.

Managed identity: ``GET {msi_endpoint}`` speaks App Service's protocol; a process that sets
``IDENTITY_ENDPOINT=msi_endpoint`` and ``IDENTITY_HEADER=msi_header`` gets tokens from azure-identity's
``ManagedIdentityCredential(client_id=msi_client_id)`` exactly as it would on an App Service host.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from aiohttp import web

from simulator.clock import SimClock
from simulator.graph_server import (
    TENANT,
    ClassActivityFn,
    CommunityActivityFn,
    GraphConfig,
    GraphTenant,
    _default_class_activity,
    _default_community_activity,
    create_app,
)
from simulator.identity import AppRegistration, DirectoryUser, TenantIdentity, demo_app, demo_managed_identity
from simulator.model import District
from simulator.throttle import Faults, ThrottleConfig, Throttler
from simulator.tls import make_local_tls

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TenantHandle:
    """Where the running tenant is and how to sign in to it."""

    graph_base_url: str  # http://127.0.0.1:<port>/v1.0
    beta_base_url: str
    admin_url: str  # POST {admin_url}/clock to move time
    authority: str  # https://127.0.0.1:<tls port>  (azure-identity ``authority=``)
    token_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    user_password: str  # password of every simulated user for the delegated (ROPC) grant
    ca_file: Path  # trust this to talk to the https listener
    msi_endpoint: str  # http://127.0.0.1:<port>/msi/token  (IDENTITY_ENDPOINT of an App Service host)
    msi_header: str  # IDENTITY_HEADER: the secret the endpoint wants in X-IDENTITY-HEADER
    msi_client_id: str  # the managed identity's client id (user-assigned: pass it as client_id)
    tenant: GraphTenant  # live state: clock, throttler counters, identity (tests and benchmarks)
    _runner: web.AppRunner = field(repr=False)
    _tmpdir: Path | None = field(repr=False, default=None)

    @property
    def identity(self) -> TenantIdentity:
        return self.tenant.identity

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def ready_line(self, connector_url: str | None = None) -> dict[str, Any]:
        return {
            "graph_base_url": self.graph_base_url,
            "beta_base_url": self.beta_base_url,
            "token_url": self.token_url,
            "authority": self.authority,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "user_password": self.user_password,
            "ca_file": str(self.ca_file),
            "msi_endpoint": self.msi_endpoint,
            "msi_header": self.msi_header,
            "msi_client_id": self.msi_client_id,
            "admin_url": self.admin_url,
            "connector_url": connector_url,
        }


def default_until(district: District) -> datetime:
    """Without ``until`` the clock stands at the end of the last term day: the whole term is visible."""
    cal = district.calendar
    return datetime.combine(cal.term_end, time(23, 59, 59), ZoneInfo(cal.timezone)).astimezone(UTC)


async def start_tenant(
    district: District,
    *,
    port: int = 0,
    tls_port: int = 0,
    throttling: ThrottleConfig | None = None,
    faults: Faults | None = None,
    until: datetime | None = None,
    class_activity: ClassActivityFn | None = None,
    community_activity: CommunityActivityFn | None = None,
    activity_cache_size: int = 64,
    app: AppRegistration | None = None,
    managed_identity: AppRegistration | None = None,
    state_dir: Path | None = None,
) -> TenantHandle:
    """Serve ``district`` on 127.0.0.1; ``port=0`` picks free ports. Call ``await handle.stop()`` when done."""
    tmpdir = None
    if state_dir is None:
        tmpdir = state_dir = Path(tempfile.mkdtemp(prefix="pli-sim-"))
    tls = make_local_tls(state_dir)
    registration = app or demo_app(district.tenant_id)
    users = {p.id: DirectoryUser(p.id, p.upn, p.display_name) for p in district.people.values()}
    identity = TenantIdentity(
        district.tenant_id,
        registration,
        users,
        managed_identity=managed_identity or demo_managed_identity(district.tenant_id),
    )
    config = GraphConfig(
        district=district,
        identity=identity,
        clock=SimClock(until or default_until(district)),
        throttler=Throttler(throttling or ThrottleConfig(), faults or Faults()),
        class_activity=class_activity or _default_class_activity,
        community_activity=community_activity or _default_community_activity,
        activity_cache_size=activity_cache_size,
    )
    runner = web.AppRunner(create_app(config), access_log=None, handler_cancellation=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
        http_port = runner.addresses[0][1]
        await web.TCPSite(runner, HOST, tls_port, ssl_context=tls.server_context()).start()
        https_port = runner.addresses[1][1]
    except BaseException:
        await runner.cleanup()
        raise
    http_base, https_base = f"http://{HOST}:{http_port}", f"https://{HOST}:{https_port}"
    return TenantHandle(
        graph_base_url=f"{http_base}/v1.0",
        beta_base_url=f"{http_base}/beta",
        admin_url=f"{http_base}/_sim",
        authority=https_base,
        token_url=f"{https_base}/{district.tenant_id}/oauth2/v2.0/token",
        tenant_id=district.tenant_id,
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        user_password=identity.user_password,
        ca_file=tls.ca_file,
        msi_endpoint=f"{http_base}/msi/token",
        msi_header=identity.msi_header,
        msi_client_id=identity.managed_identity.client_id,
        tenant=runner.app[TENANT],
        _runner=runner,
        _tmpdir=tmpdir,
    )


async def serve_until_signalled(
    district: District,
    *,
    out: TextIO = sys.stdout,
    connector_url: str | None = None,
    ready: Callable[[TenantHandle], None] | None = None,
    **kwargs: Any,
) -> None:
    handle = await start_tenant(district, **kwargs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        out.write(json.dumps(handle.ready_line(connector_url)) + "\n")
        out.flush()
        if ready is not None:
            ready(handle)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await handle.stop()


def run_forever(district: District, **kwargs: Any) -> None:
    """Blocking entry point for the CLI: prints ONE JSON line when ready, stops cleanly on SIGINT/SIGTERM."""
    asyncio.run(serve_until_signalled(district, **kwargs))


run_server = run_forever  # the name the CLI brief uses
