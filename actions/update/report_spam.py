"""Report Spam: report a quarantined message as spam, which trains MxGuard's filter."""

from __future__ import annotations

from actions.base import ActionDefinition
from actions.models import MessageInput, MessageResult
from actions.repeat import ActionHttp, Current
from api_client.examples import QUARANTINED
from api_client.mapping import get, send

ACTION = ActionDefinition(
    key="report_spam",
    noun="Quarantined Message",
    label="Report Spam",
    description="Reports a quarantined message as spam, which trains MxGuard's filter.",
    kind="update",
    input=MessageInput,
    output=MessageResult,
    http=ActionHttp(
        request=send("POST", "/quarantine/{message_id}/report-spam"),
        success_outcome="reported",
        repeat=Current(
            outcome="already_reported",
            lookup=get("/quarantine/{message_id}"),
            field="status",
            value="reported",
            error="message {id} is {status}; it cannot be reported",
        ),
    ),
    on_repeat="Reporting it again returns it (outcome 'already_reported').",
    sample={
        **QUARANTINED,
        "status": "reported",
        "reported_at": "2026-11-23T19:03:05.120004Z",
        "outcome": "reported",
    },
)
