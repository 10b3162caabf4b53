"""The simulated tenant's Microsoft identity platform: token endpoint, OpenID metadata, JWKS, token checks.

Tokens are real RS256 JWTs signed with a per-tenant key (PyJWT + cryptography), shaped like Graph's v1 access
tokens: ``aud`` https://graph.microsoft.com, ``iss`` https://sts.windows.net/{tid}/, ``tid``, ``appid``, ``oid``,
``idtyp``, and ``roles`` (app-only) or ``scp`` (delegated). Graph routes verify every token with PyJWT.

Grants on ``POST /{tenant}/oauth2/v2.0/token``:
- ``client_credentials`` with the demo client id/secret (form fields or HTTP Basic) and a ``…/.default`` scope:
  app-only token with the app's ``roles``.
- ``password`` (ROPC; username = a district UPN, password = the tenant's demo user password),
  ``refresh_token`` (from a previous delegated grant) and the on-behalf-of
  ``urn:ietf:params:oauth:grant-type:jwt-bearer`` grant (``assertion`` = a user token minted by
  ``TenantIdentity.mint_user_assertion``, as a bot's SSO token would be): delegated token with ``scp``.

Using the real azure-identity against it (verified by tests/simulator/test_identity.py)::

    ClientSecretCredential(tenant_id, client_id, client_secret,
                           authority=handle.authority,          # "https://127.0.0.1:<tls port>"
                           disable_instance_discovery=True,     # else MSAL asks login.microsoftonline.com
                           connection_verify=str(handle.ca_file))  # or REQUESTS_CA_BUNDLE / SSL_CERT_FILE
    credential.get_token("https://graph.microsoft.com/.default")

azure-identity/MSAL insist on an ``https`` authority, hence the loopback TLS listener (simulator/tls.py).
MSAL fetches ``{authority}/{tenant}/v2.0/.well-known/openid-configuration`` and takes ``token_endpoint`` from it.
Without ``disable_instance_discovery=True`` MSAL sends instance discovery for any host it does not know to
login.microsoftonline.com (network!). azure-identity only takes that boolean. Raw MSAL also accepts a URL:
``instance_discovery=f"{authority}/common/discovery/instance"``, which this module serves.
Trusting the CA: ``connection_verify`` works even when the environment sets ``REQUESTS_CA_BUNDLE`` (azure-core passes
``verify`` per request). A plain ``requests.Session`` handed to MSAL as ``http_client`` needs ``trust_env = False``
besides ``verify = ca_file``, because requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify``.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3599
REFRESH_LIFETIME = 90 * 24 * 3600

DEFAULT_APP_ROLES = (
    "ChannelMessage.Read.All",
    "Channel.ReadBasic.All",
    "Team.ReadBasic.All",
    "Group.Read.All",
    "EduRoster.Read.All",
    "EduAssignments.Read.All",
    "Reports.Read.All",
    "AuditLogsQuery.Read.All",
)
DEFAULT_DELEGATED_SCOPES = (
    "Notes.Read.All",
    "User.Read",
    "ChannelMessage.Read.All",
    "EduRoster.ReadBasic",
    "EduAssignments.Read",
    "offline_access",
    "openid",
    "profile",
)
_OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass(frozen=True, slots=True)
class AppRegistration:
    client_id: str
    client_secret: str
    roles: tuple[str, ...] = DEFAULT_APP_ROLES  # admin-consented application permissions
    delegated_scopes: tuple[str, ...] = DEFAULT_DELEGATED_SCOPES  # consented delegated permissions


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: str
    upn: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling Graph: the app, and the signed-in user for delegated tokens."""

    app_id: str
    user_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def app_only(self) -> bool:
        return self.user_id is None

    def granted(self) -> frozenset[str]:
        return self.roles if self.app_only else self.scopes


class AuthError(Exception):
    """A Graph request failed authentication (401) or authorization (403)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class TokenError(Exception):
    """An OAuth error from the token endpoint, in the identity platform's JSON shape."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.aadsts, self.description = status, error, aadsts, description

    def body(self) -> dict[str, object]:
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.aadsts}: {self.description}",
            "error_codes": [self.aadsts],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }


def demo_app(tenant_id: str) -> AppRegistration:
    """The demo app registration; deterministic per tenant so demos and docs can quote it."""
    client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pli-pulse-simulator/{tenant_id}/app"))
    secret = "sim~" + uuid.uuid5(uuid.NAMESPACE_URL, f"pli-pulse-simulator/{tenant_id}/secret").hex
    return AppRegistration(client_id=client_id, client_secret=secret)


class TenantIdentity:
    """Issues and checks tokens for one simulated tenant."""

    def __init__(
        self,
        tenant_id: str,
        app: AppRegistration,
        users: Mapping[str, DirectoryUser],
        *,
        user_password: str = "pli-sim-password",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenant_id = tenant_id
        self.app = app
        self.user_password = user_password
        self._users_by_upn = {u.upn.lower(): u for u in users.values()}
        self._users_by_id = dict(users)
        self._time = wall_clock
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._key.public_key()
        self.kid = base64.urlsafe_b64encode(uuid.uuid4().bytes[:12]).decode().rstrip("=")
        self.issuer = f"https://sts.windows.net/{tenant_id}/"
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    # ----- minting -----------------------------------------------------------------------------------------------
    def mint_app_token(self, roles: tuple[str, ...] | None = None, *, client_id: str | None = None) -> str:
        app_id = client_id or self.app.client_id
        claims = self._base_claims(app_id)
        claims.update(
            oid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp/{app_id}")),
            sub=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp/{app_id}")),
            idtyp="app",
            roles=list(self.app.roles if roles is None else roles),
        )
        return self._sign(claims)

    def mint_delegated_token(self, user_id: str, scopes: tuple[str, ...] | None = None) -> str:
        user = self._users_by_id.get(user_id)
        if user is None:
            raise KeyError(f"no user {user_id} in the simulated directory")
        granted = [s for s in (scopes or self.app.delegated_scopes) if s not in _OIDC_SCOPES]
        claims = self._base_claims(self.app.client_id)
        claims.update(
            oid=user.id, sub=user.id, idtyp="user", upn=user.upn, name=user.display_name, scp=" ".join(granted)
        )
        return self._sign(claims)

    def mint_user_assertion(self, user_id: str) -> str:
        """A user token addressed to our app (aud = client id): what a bot receives via SSO, input to OBO."""
        user = self._users_by_id[user_id]
        now = int(self._time())
        claims = {
            "aud": self.app.client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": self.tenant_id,
            "oid": user.id,
            "sub": user.id,
            "upn": user.upn,
            "scp": "access_as_user",
            "ver": "1.0",
        }
        return self._sign(claims)

    def jwks(self) -> dict[str, object]:
        numbers = self._public.public_numbers()

        def b64(n: int) -> str:
            return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode().rstrip("=")

        cert_hint = base64.b64encode(
            self._public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).decode()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                    "issuer": f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
                    "x5t": self.kid,
                    "spki": cert_hint,
                }
            ]
        }

    # ----- checking ----------------------------------------------------------------------------------------------
    def principal_from_header(self, authorization: str | None) -> Principal:
        """Verify a Graph bearer token like Graph does; raises AuthError(401) with Graph's wording."""
        if not authorization:
            raise AuthError(401, "InvalidAuthenticationToken", "Access token is empty.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "InvalidAuthenticationToken", "Access token is empty.")
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():  # PyJWT checks exp against real time too
            self._verified.move_to_end(token)
            return cached[0]
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=[GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "aud", "iss", "tid"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(
                401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(
                401, "InvalidAuthenticationToken", f"Access token validation failure. {type(exc).__name__}: {exc}"
            ) from exc
        if claims.get("tid") != self.tenant_id:
            raise AuthError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.")
        if claims.get("idtyp") == "user" or "scp" in claims:
            principal = Principal(
                app_id=str(claims.get("appid", "")),
                user_id=str(claims["oid"]),
                scopes=frozenset(str(claims.get("scp", "")).split()),
            )
        else:
            principal = Principal(
                app_id=str(claims.get("appid", "")), user_id=None, roles=frozenset(claims.get("roles", []))
            )
        self._verified[token] = (principal, float(claims["exp"]))
        if len(self._verified) > 4096:
            self._verified.popitem(last=False)
        return principal

    # ----- token endpoint ----------------------------------------------------------------------------------------
    def grant(self, form: Mapping[str, str], basic_auth: str | None = None) -> dict[str, object]:
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if basic_auth:
            client_id, client_secret = _basic(basic_auth)
        grant_type = form.get("grant_type", "")
        if client_id != self.app.client_id:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{self.tenant_id}'. "
                "Use the client_id printed by `pli-pulse simulate serve`.",
            )
        if grant_type == "client_credentials":
            self._check_secret(client_secret)
            resource = _default_scope_resource(form.get("scope", ""))
            return self._token_response(self.mint_app_token(), scope=f"{resource}/.default")
        if grant_type == "password":
            user = self._users_by_upn.get(form.get("username", "").lower())
            if user is None or form.get("password") != self.user_password:
                raise TokenError(
                    400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
                )
            return self._delegated_response(user, self._requested_scopes(form.get("scope", "")))
        if grant_type == "refresh_token":
            try:
                claims = jwt.decode(
                    form.get("refresh_token", ""), self._public, algorithms=["RS256"], audience="refresh:" + client_id
                )
            except jwt.InvalidTokenError as exc:
                raise TokenError(400, "invalid_grant", 9002313, f"Invalid refresh token: {exc}.") from exc
            user = self._users_by_id.get(str(claims["oid"]))
            if user is None:
                raise TokenError(400, "invalid_grant", 50034, "The user account does not exist in this directory.")
            scopes = (
                self._requested_scopes(form.get("scope", "")) if form.get("scope") else tuple(claims["scp"].split())
            )
            return self._delegated_response(user, scopes)
        if grant_type == JWT_BEARER:
            self._check_secret(client_secret)
            if form.get("requested_token_use") != "on_behalf_of":
                raise TokenError(
                    400, "invalid_request", 900144, "The request body must contain 'requested_token_use=on_behalf_of'."
                )
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self._public,
                    algorithms=["RS256"],
                    audience=client_id,
                    issuer=self.issuer,
                )
            except jwt.InvalidTokenError as exc:
                raise TokenError(
                    400, "invalid_grant", 50013, f"Assertion failed signature or claim validation: {exc}."
                ) from exc
            user = self._users_by_id.get(str(claims["oid"]))
            if user is None:
                raise TokenError(400, "invalid_grant", 50034, "The user account does not exist in this directory.")
            return self._delegated_response(user, self._requested_scopes(form.get("scope", "")))
        raise TokenError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'. "
            "Use client_credentials, password, refresh_token or the on-behalf-of jwt-bearer grant.",
        )

    def openid_configuration(self, base: str, tenant: str) -> dict[str, object]:
        root = f"{base}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{self.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "tid", "ver", "upn"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }

    # ----- internals ---------------------------------------------------------------------------------------------
    def _check_secret(self, secret: str) -> None:
        if secret != self.app.client_secret:
            raise TokenError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{self.app.client_id}'.",
            )

    def _requested_scopes(self, scope_param: str) -> tuple[str, ...]:
        consented = set(self.app.delegated_scopes)
        granted: list[str] = []
        for raw in scope_param.split():
            if raw.endswith("/.default"):
                _default_scope_resource(raw)
                granted.extend(s for s in self.app.delegated_scopes if s not in _OIDC_SCOPES)
                continue
            name = raw.rsplit("/", 1)[-1] if raw.startswith(("https://", "http://")) else raw
            if name in _OIDC_SCOPES:
                continue
            if name not in consented:
                raise TokenError(
                    400,
                    "invalid_grant",
                    65001,
                    f"The user or administrator has not consented to use the application '{self.app.client_id}' "
                    f"for scope '{name}'. Consented scopes: {' '.join(sorted(consented))}.",
                )
            granted.append(name)
        if not granted:
            raise TokenError(
                400, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter."
            )
        return tuple(dict.fromkeys(granted))

    def _delegated_response(self, user: DirectoryUser, scopes: tuple[str, ...]) -> dict[str, object]:
        now = int(self._time())
        refresh = self._sign(
            {
                "aud": "refresh:" + self.app.client_id,
                "iss": self.issuer,
                "iat": now,
                "exp": now + REFRESH_LIFETIME,
                "oid": user.id,
                "scp": " ".join(scopes),
                "jti": str(uuid.uuid4()),
            }
        )
        response = self._token_response(self.mint_delegated_token(user.id, scopes), scope=" ".join(scopes))
        response["refresh_token"] = refresh
        return response

    def _token_response(self, token: str, *, scope: str) -> dict[str, object]:
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": token,
        }

    def _base_claims(self, app_id: str) -> dict[str, object]:
        now = int(self._time())
        return {
            "aud": GRAPH_RESOURCE,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "appid": app_id,
            "appidacr": "1",
            "tid": self.tenant_id,
            "uti": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
            "ver": "1.0",
        }

    def _sign(self, claims: dict[str, object]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def _default_scope_resource(scope: str) -> str:
    """Map a ``<resource>/.default`` scope to Graph; loopback resources count as Graph (kiota derives the scope
    from the request host when none is configured)."""
    for raw in scope.split():
        if raw.endswith("/.default"):
            resource = raw[: -len("/.default")].rstrip("/")
            if resource in (GRAPH_RESOURCE, GRAPH_APP_ID) or resource.split("://")[-1].split(":")[0] in (
                "127.0.0.1",
                "localhost",
            ):
                return resource
            raise TokenError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant. Ask for "
                f"'{GRAPH_RESOURCE}/.default'.",
            )
    raise TokenError(
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope is not valid. Client credential flows must have a scope value with /.default "
        f"suffixed to the resource identifier (application ID URI), e.g. '{GRAPH_RESOURCE}/.default'.",
    )


# ----- aiohttp routes --------------------------------------------------------------------------------------------
IDENTITY = web.AppKey("identity", TenantIdentity)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def token_endpoint(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    tenant = request.match_info["tenant"]
    if tenant not in (identity.tenant_id, "organizations", "common") and "." not in tenant:
        return web.json_response(
            TokenError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.").body(), status=400
        )
    form = await request.post()
    fields = {k: str(v) for k, v in form.items()}
    try:
        body = identity.grant(fields, request.headers.get("Authorization"))
    except TokenError as exc:
        return web.json_response(exc.body(), status=exc.status)
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def openid_configuration(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    return web.json_response(identity.openid_configuration(_base(request), request.match_info["tenant"]))


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].jwks())


async def instance_discovery(request: web.Request) -> web.Response:
    """What MSAL's instance discovery expects, for clients that do not disable it and point it here."""
    authority = request.query.get("authorization_endpoint", "")
    host = request.host
    tenant = request.app[IDENTITY].tenant_id
    if authority:
        parts = authority.split("/")
        tenant = parts[3] if len(parts) > 3 else tenant
    return web.json_response(
        {
            "tenant_discovery_endpoint": f"{_base(request)}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


def identity_routes() -> list[web.RouteDef]:
    return [
        web.post("/{tenant}/oauth2/v2.0/token", token_endpoint),
        web.get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        web.get("/{tenant}/discovery/v2.0/keys", jwks),
        web.get("/common/discovery/instance", instance_discovery),
    ]
