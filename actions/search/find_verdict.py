"""Find Verdict: one verdict, by its id."""

from __future__ import annotations

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.repeat import ActionHttp, Empty
from api_client import Verdict
from api_client.examples import VERDICT
from api_client.mapping import get
from api_client.names import ObjectId


class FindVerdictInput(ActionInput):
    verdict_id: ObjectId = Field(
        description="The verdict's id (vrd_…, as New Verdict and quarantined messages give it)."
    )


ACTION = ActionDefinition(
    key="find_verdict",
    noun="Verdict",
    label="Find Verdict",
    description="Finds one verdict by its id: what MxGuard decided about a message, and why.",
    kind="search",
    input=FindVerdictInput,
    output=Verdict,
    http=ActionHttp(request=get("/verdicts/{verdict_id}"), repeat=Empty()),
    on_repeat="A search; it changes nothing. An unknown id finds nothing.",
    sample=VERDICT,
)
