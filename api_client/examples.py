"""Realistic examples of the API's objects: operations build their samples from them, and
platforms show those before a first real run."""

from __future__ import annotations

from typing import Any

DOMAIN: dict[str, Any] = {
    "id": "dom_5f0c2a9e81b34d7aa1c6e2f0",
    "domain": "northwind-traders.co.uk",
    "real_mx_host": "mail.northwind-traders.co.uk",
    "status": "active",
    "mx_records": [
        {"priority": 10, "host": "mx1.mxguard.uk"},
        {"priority": 20, "host": "mx2.mxguard.uk"},
    ],
    "created_at": "2026-11-02T09:14:31.402117Z",
    "updated_at": "2026-11-02T09:14:31.402117Z",
}
VERDICT: dict[str, Any] = {
    "id": "vrd_9c41e07b2d5a4f3e8b6a1d20",
    "message_id": "<4f1b9a2c7e3d5a60@paypa1-verify.example>",
    "domain": "northwind-traders.co.uk",
    "sender": "it-desk@paypa1-verify.example",
    "recipient": "accounts@northwind-traders.co.uk",
    "subject": "Action required: verify your mailbox",
    "verdict": "phishing",
    "score": 97.4,
    "action": "quarantined",
    "scanned_at": "2026-11-23T18:55:12.123456Z",
}
QUARANTINED: dict[str, Any] = {
    "id": "qmsg_0b7d3e9f4a2c6e1d8f5a7b3c",
    "verdict_id": "vrd_9c41e07b2d5a4f3e8b6a1d20",
    "domain": "northwind-traders.co.uk",
    "sender": "it-desk@paypa1-verify.example",
    "recipient": "accounts@northwind-traders.co.uk",
    "subject": "Action required: verify your mailbox",
    "reason": "phishing",
    "status": "held",
    "quarantined_at": "2026-11-23T18:55:12.123456Z",
    "expires_at": "2026-12-23T18:55:12.123456Z",
    "released_at": None,
    "reported_at": None,
}
SENDER_RULE: dict[str, Any] = {
    "id": "rul_3a8e5c1f9b7d4e2a6c0f8b1d",
    "domain": "northwind-traders.co.uk",
    "pattern": "*@lotto-prize.example",
    "action": "block",
    "note": "Lottery scam wave",
    "created_at": "2026-11-20T08:00:00.000000Z",
}
STATS: dict[str, Any] = {
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
}
