"""Export a Make custom app (the VS Code extension's local-development layout) from the manifests.

The cookiecutter template gives the skeleton (README, common data); every IML file is written
here from the manifests, as JSON, so that Jinja never meets IML's own ``{{...}}``. Make's runtime
cannot continue after an HTTP error (no lookup after a 409 or 404), so the repeat rules of the
manifests (``actions/repeat.py``) become checks made *before* the request: see
``docs/export-make.md``. Every module is built before anything is written, so a rule that Make
cannot express stops the export with nothing written. Instant triggers (a webhook attached to an
MxGuard bridge, and a module naming it) are built by ``make_instant``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

from actions.repeat import Absent, Current, Empty, Existing
from api_client.contract import MAX_PAGE_SIZE
from connector.errors import ExportError
from connector.export import make_instant
from connector.export.common import Bundle, render_template, write_json
from connector.export.make_iml import (
    PATH_VAR,
    camel,
    field_of,
    fill,
    literal,
    normal_ref,
    param_ref,
    param_value,
    url_of,
    wrap,
)
from connector.manifest.format import (
    Connector,
    HttpRequest,
    InputField,
    ListSource,
    Operation,
    OutputField,
    Pagination,
    Param,
)

CONNECTION = "mxguard"
MAKE_RECORD_CAP = 3200
"""Make reads at most 3,200 paginated records in one execution of a module."""
TRIGGER_PAGE = MAX_PAGE_SIZE
"""Items per page when polling: the API's maximum, as Make advises pages as large as possible."""
EPOCH_LIMIT = 300
RPC_CALLS = 3
"""Make advises an RPC to make at most 3 calls (and 3 pages of records): it must answer in 40 s."""
EDIT_MODE_KINDS = {"update", "delete"}
"""Make requires ``mode: edit`` on an RPC select of a Get, Update or Delete module."""
FIELD_TYPES = {
    "string": "text",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "datetime": "date",
    "object": "collection",
    "array": "array",
}
LABEL_FIELDS = ("subject", "domain", "pattern", "id")
HOST = r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
FORMAT_PATTERNS = {
    "hostname": f"^{HOST}$",
    "sender_pattern": rf"^((\*|[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}})@)?{HOST}$",
    "object_id": r"^[A-Za-z0-9_-]{1,128}$",
}
"""What the API accepts (ASCII host names: Make has no IML function to convert IDNs)."""
CRUD = {"create": "create", "update": "update", "delete": "delete", "search": "read"}
MODULE_TYPES = {"trigger": "trigger", "search": "search"}


def export(bundle: Bundle, out: Path) -> Path:
    """Write the app to ``out`` (replacing an earlier export, refusing any other folder)."""
    modules = {camel(op.key): op for op in bundle.operations}
    codes = {name: module_codes(bundle, op) for name, op in modules.items()}  # may refuse
    instants = make_instant.instant_triggers(bundle)
    hooks = {
        t.name: make_instant.webhook_codes(
            bundle, t, [parameter(f, t.op.kind) for f in t.op.inputs], error_directive()
        )
        for t in instants
    }  # may refuse
    instant_codes = {t.name: make_instant.module_codes(t, interface(t.op)) for t in instants}
    sources = used_sources(bundle)
    render_template(
        "make",
        out,
        {
            "label": bundle.connector.label,
            "description": bundle.connector.description,
            "version": bundle.connector.version,
            "base_url": bundle.base_url,
            "connection": CONNECTION,
            "modules": ", ".join(op.label for op in modules.values()),
            "instant": ", ".join(t.instant.label for t in instants) or "none",
            "rpcs": ", ".join(rpc_name(s) for s in sources) or "none",
        },
    )
    index: dict[str, Any] = {
        "fileVersion": 1,
        "generalCodeFiles": {
            "base": "general/base.iml.json",
            "common": "general/common.json",
            "groups": "modules/groups.json",
            "readme": "README.md",
        },
        "components": {
            "connection": {},
            "webhook": {},
            "module": {},
            "rpc": {},
            "function": {},
            "endpoint": {},
        },
        "origins": [],
    }
    write_json(out / "general/base.iml.json", base(bundle))
    index["components"]["connection"][CONNECTION] = write_component(
        out,
        "connection",
        CONNECTION,
        {"communication": connection_check(bundle), "params": connection_params(bundle.connector)},
    )
    index["components"]["connection"][CONNECTION].update(
        label=f"{bundle.connector.label} API token", connectionType="basic"
    )
    for source in sources:
        name = rpc_name(source)
        meta = write_component(
            out, "rpc", name, {"communication": rpc(bundle, source), "params": []}
        )
        meta.update(label=f"List {source.key}", connection=CONNECTION, altConnection=None)
        index["components"]["rpc"][name] = meta
    for name, op in modules.items():
        meta = write_component(out, "module", name, codes[name])
        meta.update(
            label=op.label,
            description=op.description,
            moduleType=MODULE_TYPES.get(op.kind, "action"),
            actionCrud=CRUD.get(op.kind),
            connection=CONNECTION,
            altConnection=None,
        )
        index["components"]["module"][name] = meta
    for trigger in instants:
        meta = write_component(out, "webhook", trigger.name, hooks[trigger.name])
        meta.update(make_instant.webhook_meta(trigger, CONNECTION))
        index["components"]["webhook"][trigger.name] = meta
        meta = write_component(out, "module", trigger.name, instant_codes[trigger.name])
        meta.update(make_instant.module_meta(trigger))
        index["components"]["module"][trigger.name] = meta
    write_json(out / "modules/groups.json", groups(modules, [t.name for t in instants]))
    write_json(out / "makecomapp.json", index)
    return out


def kebab(name: str) -> str:
    """File and folder names, as the extension derives them from component names."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def rpc_name(source: ListSource) -> str:
    return source_rpc(source.key)


def source_rpc(key: str) -> str:
    """The RPC that fills a dropdown from a list source: ``domains`` → ``listDomains``."""
    return "list" + key[:1].upper() + key[1:]


CODE_FILES = {
    "communication": "communication.iml.json",
    "params": "params.iml.json",
    "staticParams": "static-params.iml.json",
    "mappableParams": "mappable-params.iml.json",
    "interface": "interface.iml.json",
    "samples": "samples.iml.json",
    "scope": "scope.iml.json",
    "epoch": "epoch.iml.json",
    "attach": "attach.iml.json",
    "detach": "detach.iml.json",
}


def write_component(out: Path, kind: str, name: str, codes: dict[str, Any]) -> dict[str, Any]:
    """Write ``<kind>s/<name>/<name>.<code>.iml.json`` files; return the component's index entry."""
    folder = f"{kind}s/{kebab(name)}"
    files: dict[str, str] = {}
    for code, document in codes.items():
        relative = f"{folder}/{kebab(name)}.{CODE_FILES[code]}"
        write_json(out / relative, document)
        files[code] = relative
    return {"codeFiles": files}


# general -----------------------------------------------------------------------------------------
def error_directive() -> dict[str, Any]:
    """The API's error body is ``{"error": {"type", "message", "param"}}``."""
    message = "[{{statusCode}}] {{body.error.message}}"
    return {
        "message": message,
        "type": "RuntimeError",
        "400": {"message": message, "type": "DataError"},
        "401": {"message": message, "type": "InvalidAccessTokenError"},
        "422": {"message": message, "type": "DataError"},
        "429": {"message": message, "type": "RateLimitError"},
    }


def base(bundle: Bundle) -> dict[str, Any]:
    auth = bundle.connector.auth
    return {
        "baseUrl": bundle.base_url,
        "headers": {auth.header: f"{auth.scheme} {{{{connection.apiKey}}}}"},
        "response": {"error": error_directive()},
        "log": {"sanitize": [f"request.headers.{auth.header.lower()}"]},
    }


def connection_params(connector: Connector) -> list[dict[str, Any]]:
    """The token, and the optional bridge URL when the connector describes a bridge."""
    field = connector.auth.field
    token = {
        "name": "apiKey",
        "type": "password",
        "label": field.label,
        "required": True,
        "help": field.help,
        "validate": {"pattern": field.pattern},
    }
    if connector.bridge is None:
        return [token]
    return [token, make_instant.bridge_url_param(connector.bridge)]


def connection_check(bundle: Bundle) -> dict[str, Any]:
    """Connections do not inherit the base: the check carries its own URL, header and errors."""
    auth, test = bundle.connector.auth, bundle.connector.connection_test
    return {
        "url": bundle.base_url + test.request.path,
        "method": test.request.method,
        "headers": {auth.header: f"{auth.scheme} {{{{parameters.apiKey}}}}"},
        "response": {
            "metadata": {"type": "text", "value": wrap(f"body.{test.label_field}")},
            "error": error_directive(),
        },
        "log": {"sanitize": [f"request.headers.{auth.header.lower()}"]},
    }


def used_sources(bundle: Bundle) -> list[ListSource]:
    keys = {f.dynamic.source for op in bundle.operations for f in op.inputs if f.dynamic}
    return [s for s in bundle.connector.list_sources if s.key in keys]


def rpc(bundle: Bundle, source: ListSource) -> dict[str, Any]:
    """A dropdown's options (``rpc://listDomains``): at most ``RPC_CALLS`` pages of the list, as
    ``response.limit`` also stops Make's pagination."""
    dynamic = next(
        f.dynamic
        for op in bundle.operations
        for f in op.inputs
        if f.dynamic and f.dynamic.source == source.key
    )
    paging = source.pagination
    qs = {p.name: p.value for p in source.request.query}
    qs.setdefault(paging.limit_param, paging.max_limit)  # Make advises the largest page
    page = int(qs[paging.limit_param])
    return {
        "url": source.request.path,
        "method": source.request.method,
        "qs": qs,
        "response": {
            "iterate": wrap(f"body.{paging.items}"),
            "output": {
                "label": wrap(f"item.{dynamic.label}"),
                "value": wrap(f"item.{dynamic.value}"),
            },
            "limit": RPC_CALLS * page,
        },
        "pagination": pagination(
            source.pagination.cursor_param, paging.next_cursor, paging.has_more
        ),
    }


def pagination(cursor_param: str, next_cursor: str, has_more: str) -> dict[str, Any]:
    return {
        "qs": {cursor_param: wrap(f"body.{next_cursor}")},
        "condition": wrap(f"body.{has_more}"),
    }


def groups(modules: dict[str, Operation], instant: list[str]) -> list[dict[str, Any]]:
    """Triggers (polling, then instant), actions, searches."""
    found = []
    for label, kinds in (
        ("Triggers", {"trigger"}),
        ("Actions", {"create", "update", "delete"}),
        ("Searches", {"search"}),
    ):
        names = [name for name, op in modules.items() if op.kind in kinds]
        if "trigger" in kinds:
            names += instant
        if names:
            found.append({"label": label, "modules": names})
    return found


# modules -----------------------------------------------------------------------------------------
def module_codes(bundle: Bundle, op: Operation) -> dict[str, Any]:
    params = [parameter(f, op.kind) for f in op.inputs]
    codes: dict[str, Any] = {"communication": communication(bundle, op)}
    if op.kind == "trigger":
        codes["staticParams"] = [*params, trigger_limit(op)]
        codes["mappableParams"] = []
    else:
        codes["staticParams"] = []
        codes["mappableParams"] = params
    codes["interface"] = interface(op)
    codes["samples"] = op.sample
    codes["scope"] = []
    if op.kind == "trigger":
        codes["epoch"] = epoch(op)
    return codes


def parameter(field: InputField, kind: str) -> dict[str, Any]:
    """An input as a Make parameter: a dropdown (RPC or choices); its checks in ``validate``.

    An RPC dropdown of an update or delete module opens in map mode (``mode: edit``): the object
    to change is usually mapped, and the dropdown lists only the first pages."""
    spec: dict[str, Any] = {"name": field.key, "label": field.label, "required": field.required}
    if field.help:
        spec["help"] = field.help
    if field.dynamic is not None:
        spec.update(type="select", options=f"rpc://{source_rpc(field.dynamic.source)}")
        if kind in EDIT_MODE_KINDS:
            spec["mode"] = "edit"
    elif field.choices:
        spec.update(type="select", options=[{"label": c, "value": c} for c in field.choices])
    elif field.type == "integer":
        spec["type"] = "uinteger" if (field.min or 0) >= 0 else "integer"
    else:
        spec["type"] = FIELD_TYPES[field.type]
    if field.multiple:
        spec["multiple"] = True
    if field.default is not None:
        spec["default"] = field.default
    validate: dict[str, Any] = {}
    if field.min is not None:
        validate["min"] = field.min
    if field.max is not None:
        validate["max"] = field.max
    if field.max_length is not None:
        validate["max"] = field.max_length
    if field.format is not None and spec["type"] == "text":
        validate["pattern"] = FORMAT_PATTERNS[field.format]
    if validate:
        spec["validate"] = validate
    return spec


def trigger_page(op: Operation) -> int:
    assert op.pagination is not None
    return min(TRIGGER_PAGE, op.pagination.max_limit)


def trigger_max_limit(op: Operation) -> int:
    """The most items a run can give: the whole pages that fit in Make's 3,200 records (3,000)."""
    page = trigger_page(op)
    return MAKE_RECORD_CAP // page * page


def trigger_limit(op: Operation) -> dict[str, Any]:
    """Limit: the items one run gives. It defaults to its maximum, so that a run keeps up with
    a burst as far as Make lets one run read (see ``docs/export-make.md``)."""
    most, page = trigger_max_limit(op), trigger_page(op)
    return {
        "name": "limit",
        "label": "Limit",
        "type": "uinteger",
        "required": True,
        "default": most,
        "validate": {"min": 1, "max": most},
        "help": (
            f"The maximum number of items to return in one run of the scenario (at most {most:,})"
            ", oldest first; later runs return the rest. A run reads the newest items in pages of"
            f" {page} until it holds this many new ones: new items older than the pages it read"
            " are never returned."
        ),
    }


def interface(op: Operation) -> list[dict[str, Any]]:
    """The module's output fields, typed from the manifest (and the sample, for arrays)."""
    return [interface_field(f, op.sample.get(f.key)) for f in op.output]


def interface_field(field: OutputField, sample: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": field.key,
        "label": field.label,
        "type": FIELD_TYPES[field.type],
    }
    if field.type == "datetime":
        spec["time"] = True
    if (
        field.type == "array"
        and isinstance(sample, list)
        and sample
        and isinstance(sample[0], dict)
    ):
        spec["spec"] = {
            "type": "collection",
            "spec": [
                {"name": k, "label": k.replace("_", " ").capitalize(), "type": json_type(v)}
                for k, v in sample[0].items()
            ],
        }
    return spec


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text"


def epoch(op: Operation) -> dict[str, Any]:
    """'Choose where to start': the trigger's request again, labelled by the item's name or date."""
    assert op.polling is not None
    keys = [f.key for f in op.output]
    label = next(k for k in LABEL_FIELDS if k in keys)
    return {
        "response": {
            "limit": EPOCH_LIMIT,
            "output": {
                "label": wrap(f"item.{label}"),
                "date": wrap(f"item.{op.polling.time_field}"),
            },
        }
    }


def request(op: Operation, http: HttpRequest) -> dict[str, Any]:
    """A manifest request as a Make request; optional inputs left empty are not sent."""
    spec: dict[str, Any] = {"url": url_of(op, http.path), "method": http.method}
    if http.query:
        spec["qs"] = {p.name: param_value(op, p) for p in http.query}
    if http.method in ("POST", "PUT", "PATCH"):
        spec["body"] = {p.name: param_value(op, p) for p in http.body}
    return spec


def communication(bundle: Bundle, op: Operation) -> Any:
    """The module's requests, as its repeat rule makes them (see the module docstring).

    A rule Make cannot express here stops the export (a shape on another kind of action than the
    one it describes, an ``empty`` rule on a paged search), as exporting it without its meaning
    would change what a repeat does; a new shape of ``RepeatRule`` fails the type check below."""
    if op.kind == "trigger":
        if op.repeat is not None:
            raise unexpressed(op, "a trigger repeats nothing: it only reads")
        return trigger(op)
    match op.repeat:
        case None:
            if op.kind == "search":
                return search(bundle, op, None)
            return {**request(op, op.request), "response": {"output": success_output(op)}}
        case Absent() as rule:
            for_kind(op, rule.shape, "delete")
            return absent_first(bundle, op, rule)
        case Existing() as rule:
            for_kind(op, rule.shape, "create")
            return existing_first(bundle, op, rule)
        case Current() as rule:
            for_kind(op, rule.shape, "update")
            return current_first(op, rule)
        case Empty() as rule:
            for_kind(op, rule.shape, "search")
            return search(bundle, op, rule)
        case _:
            assert_never(op.repeat)


def unexpressed(op: Operation, why: str) -> ExportError:
    return ExportError(f"{op.key}: its repeat rule cannot be expressed for Make: {why}")


def for_kind(op: Operation, shape: str, kind: str) -> None:
    """Each shape becomes the check before one kind of request (a DELETE, a POST, ...)."""
    if op.kind != kind:
        raise unexpressed(op, f"{shape!r} is exported for {kind} actions only, not a {op.kind}")


def trigger(op: Operation) -> dict[str, Any]:
    """The API's newest items first, in its largest pages, so that Make stops paging at the first
    item it has processed; Make gives the new ones oldest first, up to Limit, and keeps the last
    one it gave (date, then id)."""
    assert op.pagination is not None
    assert op.polling is not None
    paging, polling = op.pagination, op.polling
    spec = request(op, op.request)
    spec["qs"] = {
        **spec.get("qs", {}),
        polling.order_param: "desc",
        paging.limit_param: trigger_page(op),
    }
    spec["response"] = {
        "iterate": wrap(f"body.{paging.items}"),
        "output": wrap("item"),
        "limit": wrap("parameters.limit"),
        "trigger": {
            "id": wrap(f"item.{polling.id_field}"),
            "date": wrap(f"item.{polling.time_field}"),
            "type": "date",
            "order": "desc",
        },
    }
    spec["pagination"] = pagination(paging.cursor_param, paging.next_cursor, paging.has_more)
    return spec


def search(bundle: Bundle, op: Operation, rule: Empty | None) -> dict[str, Any]:
    """A paged search with its client filters as the iterate condition; a lookup by key, whose
    ``empty`` rule makes a 404 "nothing found", reads the list instead (a 404 would stop Make)."""
    if rule is not None:
        if op.pagination is not None:
            raise unexpressed(op, "'empty' is for a search by key, and this one reads pages")
        where = located(bundle, op, op.request.path)
        spec = first_page(op, where)
        spec["response"] = {
            "iterate": {
                "container": wrap(f"body.{where.paging.items}"),
                "condition": wrap(f"item.{where.field} == {where.value}"),
            },
            "output": wrap("item"),
        }
        spec["pagination"] = pagination(
            where.paging.cursor_param, where.paging.next_cursor, where.paging.has_more
        )
        return spec
    if op.pagination is None and op.kind == "search" and op.repeat is None:
        # a read that always answers with one object (an account's stats): that object is the
        # one result
        spec = request(op, op.request)
        spec["response"] = {"output": wrap("body")}
        return spec
    if op.pagination is None:
        raise ExportError(
            f"{op.key}: a search by key cannot be expressed for Make without an 'empty' repeat "
            "rule: Make reads the list, where a 404 error could not happen"
        )
    paging = op.pagination
    spec = request(op, op.request)
    checks = [
        f"(!{param_ref(field)} || contains(lower(item.{item_field}), lower({param_ref(field)})))"
        for item_field, key in op.client_filters.items()
        for field in op.inputs
        if field.key == key
    ]
    container = wrap(f"body.{paging.items}")
    spec["response"] = {
        "iterate": {"container": container, "condition": wrap(" && ".join(checks))}
        if checks
        else container,
        "output": wrap("item"),
    }
    if op.result_limit_input:
        limit_field = next(f for f in op.inputs if f.key == op.result_limit_input)
        spec["response"]["limit"] = wrap(param_ref(limit_field))
    spec["pagination"] = pagination(paging.cursor_param, paging.next_cursor, paging.has_more)
    return spec


def success_output(op: Operation) -> dict[str, Any]:
    """The module's bundle: the object answered (or ``success_result`` for a 204), and outcome."""
    if op.success_result:
        result: dict[str, Any] = {
            p.name: result_value(op, p.input, p.value) for p in op.success_result
        }
    else:
        result = {f.key: wrap(f"body.{f.key}") for f in op.output if f.key != "outcome"}
    if op.success_outcome:
        result["outcome"] = op.success_outcome
    return result


def result_value(op: Operation, key: str | None, value: Any) -> Any:
    if key is None:
        return value
    return wrap(normal_ref(next(f for f in op.inputs if f.key == key)))


@dataclass(frozen=True)
class Listing:
    """Where an object is listed: the list's first request (``url``, ``method``, ``query``),
    where its pages put their items and next cursor (``paging``), and which item is the object:
    the one whose ``field`` equals ``value``, an IML expression of the inputs."""

    url: str
    method: str
    query: tuple[Param, ...]
    paging: Pagination
    field: str
    value: str


def located(bundle: Bundle, op: Operation, object_path: str) -> Listing:
    """Where an object addressed by ``…/{var}`` is listed: the path without its last segment,
    read in the largest pages its list source (else the operation, else every listing) allows.

    The field is the input's dropdown value field (``domain``), else the variable itself if items
    carry it, else ``id``."""
    parent, _, last = object_path.rpartition("/")
    var = PATH_VAR.fullmatch(last)
    field = next((f for f in op.inputs if var and f.key == var.group(1)), None)
    if field is None:
        raise unexpressed(
            op, f"Make looks the object up in a list, and {object_path} does not end in an input"
        )
    source = next((s for s in bundle.connector.list_sources if s.request.path == parent), None)
    paging = source.pagination if source else op.pagination or Pagination()
    fields = {
        f.key for other in bundle.operations if other.request.path == parent for f in other.output
    }
    if field.dynamic is not None:
        item_field = field.dynamic.value
    else:
        item_field = field.key if field.key in fields else "id"
    return Listing(
        url=url_of(op, parent),
        method="GET",
        query=(Param(name=paging.limit_param, value=paging.max_limit),),
        paging=paging,
        field=item_field,
        value=normal_ref(field),
    )


def listed_in(op: Operation, rule: Existing) -> Listing:
    """The list a creation's lookup answers (under ``find_in``): the item is the one whose field
    equals the input that ``match`` names."""
    assert rule.find_in is not None
    if len(rule.match) != 1:
        raise unexpressed(op, f"Make finds the existing item by one field, not {len(rule.match)}")
    ((item_field, key),) = rule.match.items()
    return Listing(
        url=url_of(op, rule.lookup.path),
        method=rule.lookup.method,
        query=tuple(rule.lookup.query),
        paging=Pagination(items=rule.find_in),
        field=item_field,
        value=normal_ref(field_of(op, key)),
    )


def first_page(op: Operation, where: Listing) -> dict[str, Any]:
    return {
        "url": where.url,
        "method": where.method,
        "qs": {p.name: param_value(op, p) for p in where.query},
    }


def page_in_temp(op: Operation, where: Listing) -> dict[str, Any]:
    """First page of a list, kept in ``temp`` for the next request's condition."""
    return {
        **first_page(op, where),
        "response": {
            "temp": {
                "items": wrap(f"body.{where.paging.items}"),
                "more": wrap(f"body.{where.paging.has_more}"),
            }
        },
    }


def absent_first(bundle: Bundle, op: Operation, rule: Absent) -> list[dict[str, Any]]:
    """A delete whose 404 means "already absent": list first; skip the request when the object
    is not in a complete list (a list with more pages never lets it be skipped).

    The rule's ``check`` (an object that must exist, its error the answer) needs no request of its
    own when it reads an object the list is under: listing under a missing object fails so."""
    listed = op.request.path.rpartition("/")[0]
    check = rule.check
    if check is not None and not (
        check.method == "GET" and not check.query and listed.startswith(check.path + "/")
    ):
        raise unexpressed(
            op, f"its check, {check.method} {check.path}, is not of an object {listed} is under"
        )
    where = located(bundle, op, op.request.path)
    present = f"contains(map(temp.items, {literal(where.field)}), {where.value})"
    absent_result: dict[str, Any] = {
        p.name: result_value(op, p.input, p.value) for p in rule.result
    }
    if rule.outcome:
        absent_result["outcome"] = rule.outcome
    main = request(op, op.request)
    main["condition"] = {"condition": wrap(f"{present} || temp.more"), "default": absent_result}
    main["response"] = {"output": success_output(op)}
    return [page_in_temp(op, where), main]


def existing_first(bundle: Bundle, op: Operation, rule: Existing) -> list[dict[str, Any]]:
    """A create whose 409 means "already there": list first; when the object is there, answer it
    (outcome of the rule) if it matches the inputs, else fail with the rule's message."""
    where = listed_in(op, rule) if rule.find_in else located(bundle, op, rule.lookup.path)
    first = page_in_temp(op, where)
    key, value = literal(where.field), where.value

    def found(name: str) -> str:
        return f"first(map(temp.items, {literal(name)}, {key}, {value}))"

    present = f"contains(map(temp.items, {key}), {value})"
    accepted = (
        " && ".join(
            f"{found(name)} == {normal_ref(field_of(op, input_key))}"
            for name, input_key in rule.same.items()
        )
        or "true"
    )
    fields = [f.key for f in op.output if f.key != "outcome"]
    known = {f.key: normal_ref(f) for f in op.inputs} | {name: found(name) for name in fields}
    first["response"]["valid"] = {
        "condition": wrap(f"!{present} || ({accepted})"),
        "message": fill(rule.error, known),
    }
    existing: dict[str, Any] = {name: wrap(found(name)) for name in fields}
    if rule.outcome:
        existing["outcome"] = rule.outcome
    main = request(op, op.request)
    main["condition"] = {"condition": wrap(f"!{present}"), "default": existing}
    main["response"] = {"output": success_output(op)}
    return [first, main]


def current_first(op: Operation, rule: Current) -> list[dict[str, Any]]:
    """A change whose conflict is fine when the object is already in the target state: read it
    first; skip the request then, else send it, its conflict failing with the rule's message."""
    lookup = request(op, rule.lookup)
    lookup["response"] = {"temp": {"found": wrap("body")}}
    accepted = f"temp.found.{rule.field} == {literal(rule.value)}"
    fields = [f.key for f in op.output if f.key != "outcome"]
    current: dict[str, Any] = {name: wrap(f"temp.found.{name}") for name in fields}
    if rule.outcome:
        current["outcome"] = rule.outcome
    known = {f.key: normal_ref(f) for f in op.inputs} | {n: f"temp.found.{n}" for n in fields}
    main = request(op, op.request)
    main["condition"] = {"condition": wrap(f"!({accepted})"), "default": current}
    main["response"] = {
        "output": success_output(op),
        "error": {**error_directive(), str(rule.status): {"message": fill(rule.error, known)}},
    }
    return [lookup, main]
