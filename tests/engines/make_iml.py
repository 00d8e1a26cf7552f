"""A small evaluator of the Make IML that ``connector/export/make.py`` writes, over real HTTP.

Make's runtime is not available offline, so this runs an exported app's files the way Make's
documentation describes them, for the subset the exporter uses, and nothing more (the pages
quoted are listed in ``docs/export-make.md``):

- expressions ``{{...}}``: paths (``parameters.x``, ``connection.apiKey``, ``body.a.b``, ``item``,
  ``temp.x``, ``statusCode``, ``now``; a missing one is ``undefined``, not ``null``),
  string/number/boolean/null literals, ``!``, unary ``-``, ``==``/``!=`` (strict, as Make
  documents "all equality operations are strict": no conversion between types, arrays and objects
  equal only to themselves), ``&&``/``||``, parentheses, and the functions ``lower``, ``ifempty``
  (the second argument only when the first is undefined, null or an empty string, as documented),
  ``contains``, ``map`` (with its optional filter key and value), ``first`` and ``addDays``. A
  string that is one expression keeps the expression's type; otherwise parts are joined as text.
- dates: Make keeps a date as a timestamp with milliseconds, so ``now``, ``addDays`` and a
  trigger's ``date`` are cut to the millisecond (an API time of ``…12.123456Z`` is ``…12.123Z``).
- requests: ``base`` (``baseUrl`` for URLs starting with ``/``, headers, error handling) under a
  module's or RPC's request; connections use their own request only. Values that are undefined
  are not sent (as JSON and query-string serialisation drop them); arrays in ``qs`` repeat the key.
- responses: an HTTP status of 400 or more is an error (module ``error`` over base ``error``,
  per-status entry over the general one); then ``temp``, ``valid``, ``iterate`` (with its
  ``condition``), ``output``, ``limit`` (the most bundles, and no next page once reached);
  ``pagination`` (``qs`` merged into the request, ``condition``) at most 50 requests and 3,200
  records, as Make caps a module's pagination.
- several requests run in order and the last one's output is the module's; a request whose
  ``condition`` is false is skipped and gives its ``default``.
- polling triggers (``response.trigger``, type date), as Make documents them: items at or before
  the last item processed (date, then id) are already processed and dropped; with ``order: desc``
  paging stops at the first of them (and, as for any module, once ``limit`` new items are held).
  The new items are sorted by date and id and given in ascending order, at most ``limit`` of them;
  the last one given becomes the last item processed, and the next run continues after it.
- dedicated webhooks, attached: ``attach`` runs as an RPC when the webhook is created, with the
  webhook's parameters as ``parameters`` and ``webhook.id``/``webhook.url``; its
  ``response.data`` is what Make keeps, given to ``detach`` as ``webhook``. A request arriving at
  the webhook has its JSON body parsed into ``body``; the communication's ``output`` makes the
  bundle (of each item when it has ``iterate``; the body as it is without ``output``).

Anything outside this subset raises ``UnsupportedError``, so a new construct in the export cannot be
"evaluated" by accident.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

MAX_REQUESTS = 50
MAX_ITEMS = 3200
TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*')|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>\|\||&&|==|!=|[!().,\-]))"
)
EXPR = re.compile(r"\{\{(.*?)\}\}")


class Undefined:
    """JavaScript's ``undefined`` (a missing path), distinct from ``null`` (``None``)."""

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = Undefined()


class UnsupportedError(Exception):
    """The export uses IML this evaluator does not implement."""


class MakeError(Exception):
    """What Make would report as the module's error."""

    def __init__(self, message: str, kind: str = "RuntimeError", status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


# expressions --------------------------------------------------------------------------------------
def truthy(value: Any) -> bool:
    """JavaScript truth: empty arrays and objects are true, empty strings and 0 are not."""
    if isinstance(value, list | dict):
        return True
    return bool(value)


def strict_equal(left: Any, right: Any) -> bool:
    """JavaScript's ``===``: no conversion between types; arrays, objects and dates are equal
    only to themselves; ``undefined`` and ``null`` differ."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return left is right


def is_empty(value: Any) -> bool:
    """What ``ifempty`` treats as empty: undefined, null or an empty string, nothing else."""
    return value is UNDEFINED or value is None or (isinstance(value, str) and value == "")


def _ifempty(value: Any, fallback: Any) -> Any:
    return fallback if is_empty(value) else value


def _contains(container: Any, value: Any) -> bool:
    if isinstance(container, list):
        return any(strict_equal(item, value) for item in container)
    if isinstance(container, str) and isinstance(value, str | int | float):
        return text_of(value) in container
    return False


def _map(
    items: Any, key: str, filter_key: str | None = None, filter_value: Any = None
) -> list[Any]:
    return [
        item[key]
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
        and key in item
        and (filter_key is None or strict_equal(item.get(filter_key, UNDEFINED), filter_value))
    ]


def to_ms(moment: datetime) -> datetime:
    """A date as Make keeps it: a timestamp with milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_date(value: Any) -> datetime:
    if isinstance(value, datetime):
        return to_ms(value)
    return to_ms(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _add_days(date: Any, days: Any) -> datetime:
    return to_ms(parse_date(date) + timedelta(days=float(days)))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "ifempty": _ifempty,
    "contains": _contains,
    "map": _map,
    "first": lambda v: v[0] if isinstance(v, list) and v else UNDEFINED,
    "addDays": _add_days,
}


class Parser:
    """Recursive descent over the tokens of one expression, evaluating as it goes."""

    def __init__(self, text: str, scope: dict[str, Any]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text.rstrip()):
            match = TOKEN.match(text, position)
            if match is None:
                raise UnsupportedError(f"cannot read {text[position:]!r} in {text!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.position = 0
        self.scope = scope
        self.text = text

    def value(self) -> Any:
        result = self.either()
        if self.position != len(self.tokens):
            raise UnsupportedError(f"unexpected {self.tokens[self.position][1]!r} in {self.text!r}")
        return result

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise UnsupportedError(f"unexpected end of {self.text!r}")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise UnsupportedError(f"expected {expected!r} in {self.text!r}")
        self.position += 1
        return token

    def either(self) -> Any:
        left = self.both()
        while self.peek() == "||":
            self.take()
            right = self.both()
            left = left if truthy(left) else right
        return left

    def both(self) -> Any:
        left = self.equality()
        while self.peek() == "&&":
            self.take()
            right = self.equality()
            left = right if truthy(left) else left
        return left

    def equality(self) -> Any:
        left = self.unary()
        while self.peek() in ("==", "!="):
            operator = self.take()[1]
            right = self.unary()
            same = strict_equal(left, right)
            left = same if operator == "==" else not same
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        if self.peek() == "-":
            self.take()
            return -float(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() == ".":
            self.take()
            name = self.take()[1]
            value = value.get(name, UNDEFINED) if isinstance(value, dict) else UNDEFINED
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if text == "(":
            inner = self.either()
            self.take(")")
            return inner
        if kind != "name":
            raise UnsupportedError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == "(":
            if text not in FUNCTIONS:
                raise UnsupportedError(f"function {text}() in {self.text!r}")
            self.take()
            arguments = []
            while self.peek() != ")":
                arguments.append(self.either())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return FUNCTIONS[text](*arguments)
        return self.scope.get(text, UNDEFINED)


def text_of(value: Any) -> str:
    if value is None or value is UNDEFINED:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(without_undefined(value), default=text_of)
    return str(value)


def evaluate(template: Any, scope: dict[str, Any]) -> Any:
    """Evaluate a JSON value: strings with ``{{...}}``, and everything inside arrays and objects."""
    if isinstance(template, dict):
        return {key: evaluate(value, scope) for key, value in template.items()}
    if isinstance(template, list):
        return [evaluate(value, scope) for value in template]
    if not isinstance(template, str) or "{{" not in template:
        return template
    whole = EXPR.fullmatch(template)
    if whole is not None and len(EXPR.findall(template)) == 1:  # not "{{a}}/x/{{b}}"
        return Parser(whole.group(1), scope).value()
    return EXPR.sub(lambda m: text_of(Parser(m.group(1), scope).value()), template)


def defined(document: Any) -> Any:
    """Drop undefined (and null) values from a request, as the export assumes empty optional
    parameters are not sent (JSON and query-string serialisation drop undefined values)."""
    if isinstance(document, dict):
        return {k: defined(v) for k, v in document.items() if v is not None and v is not UNDEFINED}
    if isinstance(document, list):
        return [defined(v) for v in document]
    return document


def without_undefined(document: Any) -> Any:
    """A bundle as JSON holds it: undefined properties are absent, null ones stay."""
    if isinstance(document, dict):
        return {k: without_undefined(v) for k, v in document.items() if v is not UNDEFINED}
    if isinstance(document, list):
        return [None if v is UNDEFINED else without_undefined(v) for v in document]
    return None if document is UNDEFINED else document


def strip_comments(text: str) -> str:
    """IMLJSON may hold ``//`` comments (outside strings)."""
    return re.sub(r'("(?:[^"\\]|\\.)*")|//[^\n]*', lambda m: m.group(1) or "", text)


def load(path: Path) -> Any:
    return json.loads(strip_comments(path.read_text(encoding="utf-8")))


KNOWN_REQUEST = {
    "url",
    "method",
    "qs",
    "headers",
    "body",
    "response",
    "pagination",
    "condition",
    "log",
}
"""``log`` only hides the token in Make's logs."""
KNOWN_RESPONSE = {
    "temp",
    "valid",
    "iterate",
    "output",
    "limit",
    "trigger",
    "error",
    "metadata",
    "data",
}
KNOWN_WEBHOOK = {"iterate", "output"}
"""What a webhook's communication may hold here (``verification``, ``respond``, ``condition`` and
``uid`` are not implemented: the export uses none of them)."""


# the app ------------------------------------------------------------------------------------------
@dataclass
class TriggerState:
    """What Make keeps between runs of a polling trigger: the last processed item's date (to the
    millisecond) and id. Empty, it stands for "All" in "Choose where to start"."""

    date: datetime | None = None
    id: str | None = None

    def processed(self, key: tuple[datetime, str]) -> bool:
        return self.date is not None and key <= (self.date, self.id or "")


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class MakeApp:
    """An exported app, run against a live API with one connection.

    ``clock`` gives IML's ``now``: tests pass the sandbox's clock, so that dates computed from
    ``now`` agree with the sandbox's. ``connection`` holds the connection's other parameters
    (beside ``apiKey``), as ``{{connection.<name>}}`` reads them."""

    root: Path
    api_key: str
    clock: Callable[[], datetime] = wall_clock
    connection: dict[str, Any] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    sent: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.index = load(self.root / "makecomapp.json")
        self.base = load(self.root / self.index["generalCodeFiles"]["base"])

    def code(self, kind: str, name: str, code: str) -> Any:
        relative = self.index["components"][kind][name]["codeFiles"].get(code)
        return None if relative is None else load(self.root / relative)

    # public operations
    def test_connection(self) -> Any:
        """Run the connection's check; answer what Make shows as the connection's name."""
        (name,) = self.index["components"]["connection"]
        spec = self.code("connection", name, "communication")
        scope = {"parameters": {"apiKey": self.api_key}, "temp": {}, "now": to_ms(self.clock())}
        bundles = self.run(spec, scope, base=None)
        return evaluate(spec["response"]["metadata"]["value"], bundles.last_scope)

    def rpc(self, name: str, parameters: dict[str, Any] | None = None) -> list[Any]:
        return self.run(self.code("rpc", name, "communication"), self.scope(parameters)).bundles

    def module(self, name: str, parameters: dict[str, Any]) -> list[Any]:
        """An action or a search: its bundles (one for an action)."""
        return self.run(self.code("module", name, "communication"), self.scope(parameters)).bundles

    def poll(self, name: str, parameters: dict[str, Any], state: TriggerState) -> list[Any]:
        """One run of a polling trigger: the new items, oldest first; ``state`` moves on to the
        last one given."""
        spec = self.code("module", name, "communication")
        result = self.run(spec, self.scope(parameters), trigger_state=state)
        return result.bundles

    def epoch(self, name: str, parameters: dict[str, Any]) -> list[Any]:
        """The 'Choose where to start' list: the trigger's request with the epoch's overrides."""
        spec = dict(self.code("module", name, "communication"))
        spec["response"] = {k: v for k, v in spec["response"].items() if k != "trigger"}
        spec["response"].update(self.code("module", name, "epoch")["response"])
        return self.run(spec, self.scope(parameters)).bundles

    def attach(
        self, name: str, url: str, parameters: dict[str, Any] | None, hook_id: int = 1
    ) -> dict[str, Any]:
        """A dedicated webhook's ``attach``, as Make runs it when the webhook is created at ``url``
        with these parameters: the webhook's data (its ``response.data``), which Make keeps."""
        scope = self.scope(parameters)
        scope["webhook"] = {"id": hook_id, "url": url}
        data = self.run(self.code("webhook", name, "attach"), scope).data
        return dict(data or {})

    def detach(self, name: str, webhook: dict[str, Any]) -> None:
        """The webhook's ``detach``, as Make runs it when the webhook is deleted: ``webhook`` is
        the data ``attach`` kept."""
        scope = self.scope(None)
        scope["webhook"] = dict(webhook)
        self.run(self.code("webhook", name, "detach"), scope)

    def receive(self, name: str, body: str, headers: dict[str, str]) -> list[Any]:
        """The bundles a request arriving at the webhook gives (``body``: its text)."""
        spec = self.code("webhook", name, "communication")
        unknown = set(spec) - KNOWN_WEBHOOK
        if unknown:
            raise UnsupportedError(f"webhook directives {sorted(unknown)}")
        kind = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "json" not in kind:
            raise UnsupportedError(f"a webhook request of type {kind!r}")
        here = {**self.scope(None), "body": json.loads(body)}
        return [bundle for _, bundle in self.items(spec, here)]

    # machinery
    def scope(self, parameters: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "parameters": dict(parameters or {}),
            "connection": {"apiKey": self.api_key, **self.connection},
            "temp": {},
            "now": to_ms(self.clock()),
            "common": {},
        }

    def run(
        self,
        spec: Any,
        scope: dict[str, Any],
        base: Any = "inherit",
        trigger_state: TriggerState | None = None,
    ) -> Result:
        base = self.base if base == "inherit" else base
        result = Result([], scope)
        for request in spec if isinstance(spec, list) else [spec]:
            result = self.one(request, scope, base, trigger_state)
        return result

    def one(
        self,
        spec: dict[str, Any],
        scope: dict[str, Any],
        base: Any,
        trigger_state: TriggerState | None,
    ) -> Result:
        unknown = set(spec) - KNOWN_REQUEST | set(spec.get("response", {})) - KNOWN_RESPONSE
        if unknown:
            raise UnsupportedError(f"directives {sorted(unknown)}")
        condition = spec.get("condition", True)
        if isinstance(condition, dict):
            go, default = evaluate(condition["condition"], scope), condition.get("default")
        else:
            go, default = evaluate(condition, scope), None
        if not truthy(go):
            return Result([without_undefined(evaluate(default, scope))], scope)
        response = spec.get("response", {})
        trigger = response.get("trigger")
        if trigger is not None and (trigger.get("type") != "date" or "date" not in trigger):
            raise UnsupportedError(f"trigger {trigger}")
        state = trigger_state or TriggerState()
        found: list[tuple[tuple[datetime, str], Any]] = []
        limit: int | None = None
        extra_qs: dict[str, Any] = {}
        here = scope
        data: Any = None
        for _ in range(MAX_REQUESTS):
            status, body = self.send(spec, scope, base, extra_qs)
            here = {**scope, "statusCode": status, "body": body}
            if status >= 400:
                raise self.error(response, base, here, status)
            temp = without_undefined(evaluate(response.get("temp", {}), here))
            scope["temp"] = {**scope["temp"], **temp}
            here["temp"] = scope["temp"]
            self.check_valid(response, here, status)
            if "data" in response:
                data = without_undefined(evaluate(response["data"], here))
            processed_reached = False
            for item, bundle in self.items(response, here):
                key = (datetime.min.replace(tzinfo=UTC), "")
                if trigger is not None:
                    key = (
                        parse_date(evaluate(trigger["date"], item)),
                        text_of(evaluate(trigger["id"], item)),
                    )
                    if state.processed(key):
                        processed_reached = True
                        continue
                found.append((key, bundle))
            found = found[:MAX_ITEMS]
            wanted = evaluate(response.get("limit"), here)
            limit = None if wanted is None or wanted is UNDEFINED else int(wanted)
            if limit is not None and len(found) >= limit:
                break
            paging = spec.get("pagination")
            if paging is None or len(found) >= MAX_ITEMS:
                break
            if processed_reached and trigger is not None and trigger.get("order") == "desc":
                break
            if set(paging) - {"qs", "condition"}:
                raise UnsupportedError(f"pagination directives {sorted(paging)}")
            if not truthy(evaluate(paging.get("condition", True), here)):
                break
            extra_qs = evaluate(paging.get("qs", {}), here)
        if trigger is not None:
            found.sort(key=lambda pair: pair[0])  # ascending: date, then id
        kept = found if limit is None else found[:limit]
        if trigger is not None and trigger_state is not None and kept:
            trigger_state.date, trigger_state.id = kept[-1][0]
        return Result([bundle for _, bundle in kept], here, data)

    def items(self, response: dict[str, Any], here: dict[str, Any]) -> list[tuple[Any, Any]]:
        """(item scope, bundle) for each output bundle of one response."""
        iterate = response.get("iterate")
        output = response.get("output", "{{body}}" if iterate is None else "{{item}}")
        if iterate is None:
            return [(here, without_undefined(evaluate(output, here)))]
        container, condition = (
            (iterate, True)
            if isinstance(iterate, str)
            else (iterate["container"], iterate.get("condition", True))
        )
        found = []
        items = evaluate(container, here)
        for item in items if isinstance(items, list) else []:
            scope = {**here, "item": item}
            if truthy(evaluate(condition, scope)):
                found.append((scope, without_undefined(evaluate(output, scope))))
        return found

    def send(
        self, spec: dict[str, Any], scope: dict[str, Any], base: Any, extra_qs: dict[str, Any]
    ) -> tuple[int, Any]:
        url = evaluate(spec["url"], scope)
        if base is not None and url.startswith("/"):
            url = base["baseUrl"].rstrip("/") + url
        url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
        headers = {**(base or {}).get("headers", {}), **spec.get("headers", {})}
        headers = {k: text_of(v) for k, v in defined(evaluate(headers, scope)).items()}
        query = defined({**evaluate(spec.get("qs", {}), scope), **extra_qs})
        params = [
            (k, text_of(x)) for k, v in query.items() for x in (v if isinstance(v, list) else [v])
        ]
        method = spec.get("method", "GET")
        body = defined(evaluate(spec.get("body"), scope)) if "body" in spec else None
        if body is not None:
            headers["Content-Type"] = "application/json"  # request type "json", Make's default
        self.sent.append((method, url))
        answer = self.session.request(
            method,
            url,
            params=params,
            headers=headers,
            timeout=10,
            data=None if body is None else json.dumps(body, default=text_of),
        )
        parsed: Any = answer.text
        if "json" in answer.headers.get("content-type", "") and answer.content:
            parsed = answer.json()
        return answer.status_code, parsed

    @staticmethod
    def error(response: dict[str, Any], base: Any, here: dict[str, Any], status: int) -> MakeError:
        directive = response.get("error") or (base or {}).get("response", {}).get("error")
        if directive is None:
            return MakeError(f"HTTP {status}", status=status)
        if isinstance(directive, str):
            return MakeError(text_of(evaluate(directive, here)), status=status)
        chosen = directive.get(str(status), directive)
        kind = chosen.get("type", directive.get("type", "RuntimeError"))
        return MakeError(text_of(evaluate(chosen["message"], here)), str(kind), status)

    @staticmethod
    def check_valid(response: dict[str, Any], here: dict[str, Any], status: int) -> None:
        valid = response.get("valid", True)
        condition = valid["condition"] if isinstance(valid, dict) else valid
        if not truthy(evaluate(condition, here)):
            message = valid.get("message") if isinstance(valid, dict) else None
            text = evaluate(message, here) if message else "Response marked as invalid."
            kind = valid.get("type", "RuntimeError") if isinstance(valid, dict) else "RuntimeError"
            raise MakeError(text_of(text), kind, status)


@dataclass
class Result:
    bundles: list[Any]
    last_scope: dict[str, Any]
    data: Any = None
    """``response.data``: what an attach procedure keeps (None without it)."""
