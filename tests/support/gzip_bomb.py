"""A small gzip file that expands to hundreds of MB, and a probe of one process's peak memory
while stage one ingests it.

Run as a script (`python -m tests.support.gzip_bomb FOLDER MB`), it stages the bomb's only
chunk in this process, with no Ray, and prints its peak RSS in MiB and the quarantine reasons:
a fresh process, so the peak is the ingest's and not an earlier test's.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

BEFORE = b"user,item,ts,value\n1,10,964982703,4.0\n"
AFTER = b"2,11,964982704,3.5\n"
_MIB = 1024 * 1024


def write_gzip_bomb(
    path: Path, mebibytes: int, before: bytes = BEFORE, after: bytes = AFTER
) -> None:
    """A text file `before` + `mebibytes` MiB of digits with no line break + a break + `after`.

    Gzip members may be concatenated, so one compressed MiB is repeated: the file is about
    1 KiB per MiB and costs no time to build."""
    member = gzip.compress(b"9" * _MIB, compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(before))
        for _ in range(mebibytes):
            out.write(member)
        out.write(gzip.compress(b"\n" + after))


def _stage(folder: Path) -> dict[str, object]:
    from ingest.lake.chunks import plan_file
    from ingest.lake.sources.event_log import EventLogOptions, plan_event_log
    from ingest.lake.stage_chunks import ChunkTask, stage_chunk
    from ingest.lake.validate import EventRules

    mapping = {"user": "user", "item": "item", "ts": "ts", "value": "value"}
    spec = plan_event_log(folder / "bomb.csv.gz", EventLogOptions(mapping=mapping))
    rules = EventRules(now_ms=1_700_000_000_000)
    staging = folder / "staging"
    staging.mkdir()
    results = [
        stage_chunk(ChunkTask(chunk=chunk, file=0, index=n), rules, staging, 2)
        for n, chunk in enumerate(plan_file(spec).chunks)
    ]
    bad = [row for result in results for row in result["bad"].to_pylist()[0]]
    return {
        "rows": sum(result["rows"][0].as_py() for result in results),
        "reasons": [(row["line"], row["reason"]) for row in bad],
        "errors": [result["file_error"][0].as_py() for result in results],
    }


def main() -> None:
    folder, mebibytes = Path(sys.argv[1]), int(sys.argv[2])
    write_gzip_bomb(folder / "bomb.csv.gz", mebibytes)
    outcome = _stage(folder)
    print(json.dumps(outcome | {"peak_mib": round(_peak_kib() / 1024)}))


def _peak_kib() -> int:
    """This process's own high-water RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries the
    parent's high-water mark over fork and exec into it, so under a pytest driver that already
    holds a GiB the probe would report the driver's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
