"""Release Message: deliver a held message from quarantine to its recipient."""

from __future__ import annotations

from actions.base import ActionDefinition
from actions.models import MessageInput, MessageResult
from actions.repeat import ActionHttp, Current
from api_client.examples import QUARANTINED
from api_client.mapping import get, send

ACTION = ActionDefinition(
    key="release_message",
    noun="Quarantined Message",
    label="Release Message",
    description="Releases a held message from quarantine to its recipient.",
    kind="update",
    input=MessageInput,
    output=MessageResult,
    http=ActionHttp(
        request=send("POST", "/quarantine/{message_id}/release"),
        success_outcome="released",
        repeat=Current(
            outcome="already_released",
            lookup=get("/quarantine/{message_id}"),
            field="status",
            value="released",
            error="message {id} is {status}; only held messages can be released",
        ),
    ),
    on_repeat="Releasing a message already released returns it (outcome "
    "'already_released'); a reported or expired one is a conflict error.",
    sample={
        **QUARANTINED,
        "status": "released",
        "released_at": "2026-11-23T19:02:40.551230Z",
        "outcome": "released",
    },
)
