"""The simulated Bot Framework channel's signing identity: a local RSA key, its JWKS and OpenID metadata.

Teams signs every activity it POSTs to a bot with a key published at
``login.botframework.com/v1/.well-known/openidconfiguration`` (teams.md §2.5). The simulator plays that
role with a key generated per run, so a bot with authentication ON can be exercised end to end with
botbuilder's own validation pointed at ``OPENID_PATH`` on the connector (config key
``TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL``).

The same key also stands in for Entra ID when the *bot* calls the connector: ``mint_connector_token``
gives a token shaped like an app-only token for ``https://api.botframework.com``, until the simulated
token endpoint exists. ``SimulatedCredentialsFactory`` hands such tokens to botbuilder's outbound
connector client.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

OPENID_PATH = "/_bot-identity/.well-known/openidconfiguration"
KEYS_PATH = "/_bot-identity/keys"

# What the real channel puts in its tokens and metadata (botframework.connector.auth.authentication_constants).
CHANNEL_ISSUER = "https://api.botframework.com"
CHANNEL_ENDORSEMENTS = ("msteams",)
# What Entra ID puts in an app-only token a multi-tenant bot gets for the connector (tenant "botframework.com").
BOTFRAMEWORK_TENANT_ID = "d6d49420-f39b-4df7-a1dc-d59a935871db"
CONNECTOR_AUDIENCE = "https://api.botframework.com"
CONNECTOR_TOKEN_ISSUERS = (
    f"https://sts.windows.net/{BOTFRAMEWORK_TENANT_ID}/",
    f"https://login.microsoftonline.com/{BOTFRAMEWORK_TENANT_ID}/v2.0",
)


@dataclass(frozen=True)
class BotIdentity:
    """One signing key with its key id. Generate a fresh one per run; never persist it."""

    private_key: rsa.RSAPrivateKey
    kid: str
    endorsements: tuple[str, ...] = CHANNEL_ENDORSEMENTS

    @classmethod
    def generate(cls, *, kid: str | None = None, endorsements: tuple[str, ...] = CHANNEL_ENDORSEMENTS) -> BotIdentity:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private_key=key, kid=kid or uuid.uuid4().hex, endorsements=endorsements)

    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": list(self.endorsements)}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def mint_channel_token(
        self,
        *,
        app_id: str,
        service_url: str,
        now: datetime | None = None,
        lifetime: timedelta = timedelta(hours=1),
    ) -> str:
        """A token as the channel sends it to a bot: aud = the bot's app id, serviceurl = the activity's."""
        issued = now or datetime.now(UTC)
        claims = {
            "iss": CHANNEL_ISSUER,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": int(issued.timestamp()),
            "exp": int((issued + lifetime).timestamp()),
        }
        return self._sign(claims)

    def mint_connector_token(
        self,
        *,
        app_id: str,
        now: datetime | None = None,
        lifetime: timedelta = timedelta(hours=1),
    ) -> str:
        """A v2 app-only token for the connector, as Entra ID issues it to a multi-tenant bot."""
        issued = now or datetime.now(UTC)
        claims = {
            "iss": CONNECTOR_TOKEN_ISSUERS[1],
            "aud": CONNECTOR_AUDIENCE,
            "azp": app_id,
            "tid": BOTFRAMEWORK_TENANT_ID,
            "ver": "2.0",
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int((issued + lifetime).timestamp()),
        }
        return self._sign(claims)

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


def openid_metadata(base_url: str) -> dict[str, Any]:
    """The document the channel publishes, with the keys under ``base_url`` instead of login.botframework.com."""
    return {
        "issuer": CHANNEL_ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": base_url.rstrip("/") + KEYS_PATH,
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }


class _IdentityAppCredentials(AppCredentials):
    """Outbound credentials whose token comes from the local identity instead of MSAL."""

    def __init__(self, identity: BotIdentity, app_id: str, oauth_scope: str | None) -> None:
        super().__init__(app_id=app_id, oauth_scope=oauth_scope)
        self._identity = identity

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._identity.mint_connector_token(app_id=self.microsoft_app_id)


class SimulatedCredentialsFactory(ServiceClientCredentialsFactory):
    """botbuilder's credentials plug point (``ConfigurationBotFrameworkAuthentication(credentials_factory=...)``).

    It replaces the MSAL client-credentials call (which insists on an https authority) so that a bot with
    authentication ON can reply to the simulated connector offline.
    """

    def __init__(self, identity: BotIdentity, app_id: str) -> None:
        self._identity = identity
        self._app_id = app_id

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self._app_id

    async def is_authentication_disabled(self) -> bool:
        return not self._app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        if app_id != self._app_id:
            raise PermissionError(f"This factory holds credentials for app {self._app_id!r}, not {app_id!r}")
        return _IdentityAppCredentials(self._identity, app_id, oauth_scope)
