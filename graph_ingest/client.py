"""The one place a Graph client is made.

Real Graph and the simulated tenant get the same client; only the base URL (and, for the simulator,
the authority and CA bundle) differ. Credentials come from azure-identity, chosen by configuration:
client secret, certificate or managed identity.

Choices made on purpose (graph.md §4):
- kiota's own ``AzureIdentityAuthenticationProvider`` with an explicit scope and the configured host
  allowed: msgraph_core's provider silently sends no token to a host outside the national clouds.
- The SDK's RetryHandler is turned off (``max_retries=0``): retries happen in ``fetch.py``, which honours
  decimal Retry-After values, long waits and per-item 429s in $batch, none of which the handler does.
- ``adapter.base_url`` is set explicitly, which avoids the double slash that a client-level base URL causes.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph import graph_request_adapter as graph_request_adapter_module
from msgraph_core import GraphClientFactory

from pli_pulse.config import Settings

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class GraphConnection:
    client: GraphServiceClient
    adapter: GraphRequestAdapter
    credential: AsyncTokenCredential
    http: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.credential.close()


def entra_options(settings: Settings, ca_bundle: Path | None) -> dict:
    """Where azure-identity signs in and which CA it trusts: the same for the app's and the teacher's tokens."""
    extra: dict = {}
    if urlparse(settings.graph_authority).netloc != "login.microsoftonline.com":
        extra["authority"] = settings.graph_authority
        # A private authority (the simulated tenant) is not in Microsoft's instance discovery list.
        extra["disable_instance_discovery"] = True
    if ca_bundle is not None:
        extra["connection_verify"] = str(ca_bundle)
    return extra


def make_credential(settings: Settings, *, ca_bundle: Path | None = None) -> AsyncTokenCredential:
    """An async azure-identity credential for the configured mode."""
    from azure.identity.aio import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

    extra = entra_options(settings, ca_bundle)
    if settings.graph_credentials == "client_secret":
        secret = settings.graph_client_secret.get_secret_value() if settings.graph_client_secret else ""
        return ClientSecretCredential(settings.tenant_id, settings.graph_client_id, secret, **extra)
    if settings.graph_credentials == "certificate":
        return CertificateCredential(
            settings.tenant_id, settings.graph_client_id, certificate_path=str(settings.graph_certificate_path), **extra
        )
    return ManagedIdentityCredential(client_id=settings.graph_client_id or None)


def make_graph_client(
    settings: Settings,
    *,
    credential: AsyncTokenCredential | None = None,
    ca_bundle: Path | None = None,
    timeout_s: float = 60.0,
) -> GraphConnection:
    credential = credential or make_credential(settings, ca_bundle=ca_bundle)
    host = urlparse(settings.graph_base_url).hostname or "graph.microsoft.com"
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host])
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=15.0),
        verify=ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else True,
        # Enough for the widest fan-out (16 channels or classes in flight); every idle pooled connection costs a
        # readiness check on each request, so a larger pool only burns CPU.
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
    )
    # Keep the adapter's default options (UrlReplaceHandler for /me) and add ours (graph.md §4.2).
    options = dict(graph_request_adapter_module.options)
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(max_retries=0, should_retry=False)
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = settings.graph_v1_url
    return GraphConnection(GraphServiceClient(request_adapter=adapter), adapter, credential, http)
