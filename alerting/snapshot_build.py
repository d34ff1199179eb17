"""Build the register's snapshot file in a process of its own, for a process that must go on
answering previews meanwhile.

At national size building the arrays (sorting millions of phone strings and Z-order codes)
holds the interpreter's lock for seconds; in a thread of the web process every preview would
wait for it. The child reads every row, writes the file beside the others and says which one;
the parent only maps it. The database URL comes on stdin, never on the command line (where `ps`
would show its password).

    echo "$DATABASE_URL" | python -m alerting.snapshot_build FOLDER   # prints {"version", "epoch"}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alerting.db import make_engine
from alerting.register_changes import epoch, versions
from alerting.snapshot_files import SnapshotStore
from alerting.targeting import load_snapshot


def build(url: str, folder: Path) -> dict:
    """Write the snapshot of the register as it is now; its version and database epoch."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            version, token = versions(conn)[0], epoch(conn)
            SnapshotStore(folder).shared(load_snapshot(conn, version), token)
    finally:
        engine.dispose()
    return {"version": version, "epoch": token}


if __name__ == "__main__":
    print(json.dumps(build(sys.stdin.readline().strip(), Path(sys.argv[1]))))
