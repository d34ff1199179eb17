"""The register's snapshot as files in the instance folder, mapped read-only by every process.

Web and worker processes on one machine then share one copy of the arrays in the page cache
instead of holding one each, and a new process starts from the newest file (plus the change log
since) instead of reading every row from SQL. A snapshot is written to a temporary folder and
renamed into place, so a reader never sees half of one; a process that loses the race to write
the same version maps the winner's. Folder names carry the database's epoch (a random token of
its version row), so files of another database, or of one made again, are never used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from alerting.targeting import Snapshot

log = logging.getLogger(__name__)

KEEP = 2  # folders kept: the newest and the one before (processes may still be opening it)
_ARRAYS = [f.name for f in fields(Snapshot) if f.type == "np.ndarray"]
_SCALARS = [f.name for f in fields(Snapshot) if f.type != "np.ndarray"]


class SnapshotStore:
    """The folder of snapshot files; `Register` asks it before reading every row from SQL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def newest(self, epoch: str, at_most: int) -> Snapshot | None:
        """The newest snapshot of this database no newer than `at_most`, mapped read-only."""
        for version, path in self._versions(epoch):
            if version > at_most:
                continue
            try:
                return load(path)
            except (OSError, ValueError):  # removed meanwhile, or damaged: SQL is the truth
                log.warning("register snapshot %s unreadable; reading the database", path.name)
                return None
        return None

    def shared(self, s: Snapshot, epoch: str) -> Snapshot:
        """The snapshot written beside the others (atomically), mapped read-only; the old
        ones dropped. On a write error (disk full) the snapshot itself, held privately."""
        final = self.folder / f"register-{epoch}-{s.version}"
        try:
            if not final.exists():
                self._write(s, final)
            self._drop_old(epoch)
            return load(final)
        except (OSError, ValueError):
            log.warning("register snapshot not written to %s; kept in memory", self.folder)
            return s

    def _drop_old(self, epoch: str) -> None:
        """All but this database's newest KEEP; another epoch's once an hour old (a database
        made again). A process still mapping a removed file keeps its pages."""
        for _version, old in self._versions(epoch)[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)
        cutoff = time.time() - 3600
        for path in self.folder.glob("register-*"):
            if not path.name.startswith(f"register-{epoch}-") and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

    def _write(self, s: Snapshot, final: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.folder))
        try:
            for name in _ARRAYS:
                np.save(partial / f"{name}.npy", getattr(s, name), allow_pickle=False)
            (partial / "meta.json").write_text(json.dumps({n: getattr(s, n) for n in _SCALARS}))
            os.rename(partial, final)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not final.exists():  # else another process wrote this version first
                raise

    def _versions(self, epoch: str) -> list[tuple[int, Path]]:
        """(version, folder) of this database's snapshots, newest first."""
        prefix = f"register-{epoch}-"
        found = []
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                tail = path.name[len(prefix) :]
                if path.name.startswith(prefix) and tail.isdigit():
                    found.append((int(tail), path))
        return sorted(found, reverse=True)


def load(path: Path) -> Snapshot:
    meta = json.loads((path / "meta.json").read_text())
    arrays = {n: np.load(path / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in _ARRAYS}
    return Snapshot(**meta, **arrays)
