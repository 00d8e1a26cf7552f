"""HTTP mapping and sample of the scaffolded trigger ``{{ cookiecutter.name }}``."""

from __future__ import annotations

from connector.manifest.format import HttpRequest

TRIGGER_REQUEST = ("{{ cookiecutter.name }}", HttpRequest(method="GET", path="/api/v1/domains"))
SAMPLE = (
    "{{ cookiecutter.name }}",
    {
        "id": "dom_5f0c2a9e81b34d7aa1c6e2f0",
        "domain": "northwind-traders.co.uk",
        "real_mx_host": "mail.northwind-traders.co.uk",
        "status": "active",
        "mx_records": [{"priority": 10, "host": "mx1.mxguard.uk"}],
        "created_at": "2026-11-02T09:14:31.402117Z",
        "updated_at": "2026-11-02T09:14:31.402117Z",
    },
)
