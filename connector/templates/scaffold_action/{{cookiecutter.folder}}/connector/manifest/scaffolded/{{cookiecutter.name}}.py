"""HTTP mapping and sample of the scaffolded action ``{{ cookiecutter.name }}``."""

from __future__ import annotations

from connector.manifest.format import HttpRequest, Param

ACTION_HTTP = (
    "{{ cookiecutter.name }}",
    {
        "request": HttpRequest(
            method="GET", path="/api/v1/stats", query=[Param(name="domain", input="domain")]
        ),
    },
)
SAMPLE = (
    "{{ cookiecutter.name }}",
    {
        "since": "2026-11-22T18:00:00.000000Z",
        "until": "2026-11-23T18:00:00.000000Z",
        "domain": "northwind-traders.co.uk",
        "messages_scanned": 1042,
        "by_verdict": {"clean": 890, "spam": 120, "phishing": 20, "malware": 8, "blocked": 4},
        "by_action": {"delivered": 890, "quarantined": 130, "rejected": 22},
        "quarantined": 130,
        "quarantine_rate": 0.124760,
        "quarantine_held": 97,
        "domains": 4,
    },
)
