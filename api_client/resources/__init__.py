"""One class per part of the API, reached as ``client.domains``, ``client.quarantine``, ..."""

from __future__ import annotations

from api_client.resources.account import AccountResource
from api_client.resources.domains import Domains, SenderRules
from api_client.resources.quarantine import Quarantine
from api_client.resources.verdicts import Verdicts

__all__ = ["AccountResource", "Domains", "Quarantine", "SenderRules", "Verdicts"]
