"""Realistic samples of each output, shown by platforms before a first real run."""

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

SAMPLES: dict[str, dict[str, Any]] = {
    "new_verdict": VERDICT,
    "new_quarantined_message": QUARANTINED,
    "new_domain": DOMAIN,
    "add_domain": {**DOMAIN, "status": "pending", "outcome": "created"},
    "update_domain": {**DOMAIN, "outcome": "updated"},
    "remove_domain": {"id": DOMAIN["domain"], "outcome": "removed"},
    "add_sender_rule": {**SENDER_RULE, "outcome": "created"},
    "remove_sender_rule": {"id": SENDER_RULE["id"], "outcome": "removed"},
    "release_message": {
        **QUARANTINED,
        "status": "released",
        "released_at": "2026-11-23T19:02:40.551230Z",
        "outcome": "released",
    },
    "report_spam": {
        **QUARANTINED,
        "status": "reported",
        "reported_at": "2026-11-23T19:03:05.120004Z",
        "outcome": "reported",
    },
    "find_domain": DOMAIN,
    "find_quarantined_message": QUARANTINED,
}
