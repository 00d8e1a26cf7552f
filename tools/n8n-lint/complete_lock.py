"""Add the missing platform bindings to a package-lock.json, so that ``npm ci`` accepts it.

The npm registry reachable here serves only the Linux builds of packages that ship one binary
package per platform (``@unrs/resolver-binding-darwin-arm64``, ``@msgpackr-extract/...``): ``npm
install`` writes a lock without the others, and ``npm ci`` then refuses it ("Missing: ... from lock
file"). This adds an entry with the platform (``os``/``cpu``/``libc``, read from the package name)
for each optional dependency that has none; npm skips those on Linux x64 without fetching them.

Usage, after ``npm install`` changed a lock: ``python3 tools/n8n-lint/complete_lock.py LOCK...``
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PLATFORM = re.compile(
    r"-(?P<os>android|darwin|freebsd|linux|openharmony|win32)"
    r"-(?P<cpu>arm64|arm|x64|ia32|loong64|ppc64|riscv64|s390x)(?P<rest>-[a-z0-9]+)?$"
)


def binding(name: str, version: str) -> dict[str, object]:
    match = PLATFORM.search(name)
    if match is None:
        raise SystemExit(f"{name}: not a platform binding; install it or edit the lock by hand")
    entry: dict[str, object] = {"version": version, "cpu": [match["cpu"]], "dev": True}
    if match["os"] == "linux" and match["rest"]:
        entry["libc"] = ["musl" if "musl" in match["rest"] else "glibc"]
    entry.update({"optional": True, "os": [match["os"]]})
    return entry


def complete(path: Path) -> list[str]:
    lock = json.loads(path.read_text())
    packages: dict[str, dict[str, object]] = lock["packages"]
    added: dict[str, dict[str, object]] = {}
    for location, package in packages.items():
        optional = package.get("optionalDependencies") or {}
        assert isinstance(optional, dict)
        for name, version in optional.items():
            nested = f"{location}/node_modules/{name}" if location else f"node_modules/{name}"
            top = f"node_modules/{name}"
            if nested not in packages and top not in packages and top not in added:
                added[top] = binding(name, str(version).lstrip("^~="))
    if added:
        pending = sorted(added)
        ordered: dict[str, dict[str, object]] = {}
        for location, package in packages.items():  # existing entries keep their order
            while pending and location and pending[0] < location:
                name = pending.pop(0)
                ordered[name] = added[name]
            ordered[location] = package
        ordered.update((name, added[name]) for name in pending)
        lock["packages"] = ordered
        path.write_text(json.dumps(lock, indent=2) + "\n")
    return sorted(added)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        for name in complete(Path(argument)):
            print(f"{argument}: added {name}")
