"""OpenRouter's key provisioning API (`/api/v1/keys`), called with the management
key (OPENROUTER_MANAGEMENT_KEY): create a key with a credit limit, change its
limit. Blocking httpx, for the periodic task that keeps tenants' keys in step
(workers.maintenance.provisioned_keys)."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import BrokerError
from shared.redaction import Redactor

LIMIT_RESET = "monthly"  # a tenant's budget is monthly (shared.budget)


class ProvisioningFailed(BrokerError):
    code = "key_provisioning_failed"


@dataclass(frozen=True, slots=True)
class ProvisionedKey:
    key: SecretStr  # shown once by OpenRouter, sealed at once by the caller
    key_hash: str


class ProvisioningApi:
    """Creates and updates keys at `{base_url}/keys`."""

    def __init__(
        self, client: httpx.Client, base_url: str, management_key: SecretStr
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/keys"
        self._headers = {"Authorization": f"Bearer {management_key.get_secret_value()}"}
        self._redactor = Redactor([management_key.get_secret_value()])

    def create(self, name: str, limit_usd: Decimal | None) -> ProvisionedKey:
        """A new key limited to `limit_usd` a month (None: no limit)."""
        body = self._call("POST", self._url, {"name": name, **_limit_fields(limit_usd)})
        key, data = body.get("key"), body.get("data")
        if not isinstance(key, str) or not isinstance(data, dict):
            raise ProvisioningFailed("OpenRouter's answer to a new key has no key")
        return ProvisionedKey(key=SecretStr(key), key_hash=str(data.get("hash")))

    def set_limit(self, key_hash: str, limit_usd: Decimal | None) -> None:
        """Hold the key to `limit_usd` a month from now on (None: no limit)."""
        self._call("PATCH", f"{self._url}/{key_hash}", _limit_fields(limit_usd))

    def _call(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.request(
                method, url, json=body, headers=self._headers
            )
        except httpx.HTTPError as error:
            raise ProvisioningFailed(
                f"OpenRouter's key API unreachable: {type(error).__name__}"
            ) from None
        if not response.is_success:
            text = self._redactor.excerpt(response.text, max_chars=200)
            raise ProvisioningFailed(
                f"OpenRouter's key API answered {response.status_code}: {text}"
            )
        answer = response.json()
        if not isinstance(answer, dict):
            raise ProvisioningFailed("OpenRouter's key API answered no object")
        return answer


def _limit_fields(limit_usd: Decimal | None) -> dict[str, Any]:
    if limit_usd is None:
        return {"limit": None, "limit_reset": None}
    return {"limit": float(limit_usd), "limit_reset": LIMIT_RESET}
