"""What the contract assumes beyond MxGuard's published help page, written down once.

Each entry is listed in the generated spec's ``info.description`` and attached as ``x-assumption``
to the operations it shapes, so that the day the official ``openapi.json`` is published,
``mxguard contract diff`` plus this list is the checklist of what to change.
"""

from __future__ import annotations

ASSUMPTIONS: dict[str, str] = {
    "json": "JSON request and response bodies everywhere.",
    "timestamps": "Timestamps are RFC 3339 in UTC with six fractional digits and 'Z'.",
    "ids": "Every object has a stable, opaque string `id`.",
    "pagination": "Collections are `{data, has_more, next_cursor}`; `limit` defaults to 50, "
    "at most 500; `cursor` is opaque (its form is stated so that validators can check it) and "
    "the same filters must be repeated with it. Order is by the object's time, then `id`, "
    "`desc` by default.",
    "errors": "Errors are `{error: {type, message, param}}`: 400/422 bad input (`param` names the "
    "field), 401 with `WWW-Authenticate: Bearer`, 404 unknown or another customer's (never 403), "
    "409 conflict, 429 rate limited.",
    "rate_limit_headers": "`X-RateLimit-Limit` and `X-RateLimit-Remaining` describe the window "
    "that binds now (60/min or 600/h); `X-RateLimit-Reset` is the Unix time in seconds when that "
    "window frees a request; `Retry-After` is in seconds. Rejected requests do not count.",
    "request_id": "Every response carries `X-Request-Id`.",
    "domain_paths": "Domains are addressed by name in paths; IDNs are accepted and stored as "
    "punycode. A domain has `id, domain, real_mx_host, status, mx_records, created_at, "
    "updated_at`; only `real_mx_host` can be updated; removing a domain removes its sender rules.",
    "sender_rules": "Sender rules live under `/domains/{domain}/sender-rules`; a pattern is an "
    "address, a domain or `*@domain`; one rule per pattern and domain (a second is 409).",
    "verdicts": "Verdict fields and values (`verdict`: clean, spam, phishing, malware, blocked; "
    "`action`: delivered, quarantined, rejected; `score` 0-100); filters `domain`, repeatable "
    "`verdict` and `action`, `since` (inclusive), `until` (exclusive), `order`. "
    "`GET /verdicts/{id}` exists.",
    "late_arrival": "A verdict can become visible up to 120 s after its `scanned_at`, after newer "
    "ones; quarantine entries become visible with their verdict.",
    "quarantine": "Quarantine fields; `status` held, released, reported, expired (held for 30 "
    "days); release works on held messages only, report-spam on held or released ones; anything "
    "else is 409.",
    "stats": "`GET /stats` takes `since` (default 24 h before `until`), `until` (default now) and "
    "`domain`, and counts verdicts in that window (an empty window when `since` is after `until`).",
    "sandbox_tokens": "Sandbox tokens start with `mxg_test_` (43 characters after it, like live "
    "ones).",
}

OPERATION_ASSUMPTIONS: dict[str, list[str]] = {
    "me": ["rate_limit_headers"],
    "list_domains": ["pagination", "domain_paths"],
    "add_domain": ["domain_paths"],
    "get_domain": ["domain_paths"],
    "update_domain": ["domain_paths"],
    "remove_domain": ["domain_paths"],
    "list_sender_rules": ["sender_rules", "pagination"],
    "add_sender_rule": ["sender_rules"],
    "remove_sender_rule": ["sender_rules"],
    "list_verdicts": ["verdicts", "pagination", "late_arrival"],
    "get_verdict": ["verdicts"],
    "list_quarantine": ["quarantine", "pagination", "late_arrival"],
    "get_quarantined": ["quarantine"],
    "release": ["quarantine"],
    "report_spam": ["quarantine"],
    "stats": ["stats"],
}
