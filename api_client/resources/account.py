"""The account behind the token (``/me``) and its statistics (``/stats``)."""

from __future__ import annotations

from api_client.models import Account, Stats
from api_client.resources._base import Resource, TimeArg, timestamp


class AccountResource(Resource):
    def me(self) -> Account:
        """Verify the token; the account, the token's prefix and the documented limits."""
        return self._transport.request("GET", "/me").parse(Account)

    def stats(
        self, *, since: TimeArg = None, until: TimeArg = None, domain: str | None = None
    ) -> Stats:
        """Counts over ``[since, until)`` (default: the last 24 h), optionally for one domain."""
        params = {
            "since": timestamp(since, "since"),
            "until": timestamp(until, "until"),
            "domain": domain,
        }
        return self._transport.request("GET", "/stats", params=params).parse(Stats)
