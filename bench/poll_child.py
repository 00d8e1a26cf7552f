"""One poll in a process of its own, reporting its memory; started by ``bench.memory``.

``python -m bench.poll_child BASE_URL START_US STATE_DIR`` with the token in
``$MXGUARD_API_TOKEN``. A process of its own, because peak RSS is per process: neither the
sandbox nor the benchmark driver may be counted. Prints one JSON object on stdout.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from pathlib import Path

from bench.harness import PAGE_SIZE, bench_client, null_stream, verdict_poller
from connector.cursor_store import SQLiteCursorStore
from connector.polling import json_lines_sink
from sandbox.timefmt import format_us
from triggers.cursor import CursorState, SeenChanges


class WatchedStore(SQLiteCursorStore):
    """The SQLite cursor store, noting the most ids the cursor held at any commit."""

    peak_seen = 0

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        self.peak_seen = max(self.peak_seen, len(state.seen))
        super().commit(key, state, changes)


def peak_rss_kib() -> int:
    """Peak resident set size of this process so far, in KiB.

    On Linux ``VmHWM``, not ``ru_maxrss``: the latter carries the parent's peak over into a child
    started by fork/vfork + exec (as ``subprocess`` does), so a poll smaller than the benchmark
    driver would report the driver's peak instead of its own.
    """
    peak = _proc_status_kib("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def current_rss_kib() -> int:
    current = _proc_status_kib("VmRSS")
    return current if current is not None else peak_rss_kib()


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name == field:
                    return int(value.split()[0])
    except OSError:
        pass
    return None


def main(base_url: str, start_us: int, state_dir: Path) -> dict[str, object]:
    store = WatchedStore(state_dir / "cursors.sqlite")
    with bench_client(base_url) as client, null_stream() as out:
        # Warm up every path a page takes (HTTP, models, the sink) before the baseline.
        page = client.verdicts.page(since=format_us(start_us), order="asc", limit=PAGE_SIZE)
        json_lines_sink(out)(page.data)
        del page
        gc.collect()
        baseline = current_rss_kib()
        poller = verdict_poller(client, store, start_us)
        started = time.perf_counter()
        report = poller.poll(json_lines_sink(out))
        seconds = time.perf_counter() - started
        peak = peak_rss_kib()
        kept = store.load(poller.key)
    store.close()
    return {
        "emitted": report.emitted,
        "complete": report.complete,
        "seconds": seconds,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "peak_seen": store.peak_seen,
        "kept_seen": len(kept.seen) if kept else 0,
    }


if __name__ == "__main__":
    url, start, folder = sys.argv[1:4]
    print(json.dumps(main(url, int(start), Path(folder))))
