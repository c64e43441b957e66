"""The sweep's folder: what it is, what has finished, and the best model so far.

    DIR/sweep.json     the sweep's definition (space, seeds, settings, data), written once; a resumed sweep
                       must match it
    DIR/trials.jsonl   one JSON object per finished trial (per rung under successive halving), appended and
                       flushed as each finishes, so an interrupted sweep loses at most the trials in flight
    DIR/best.npz       the best model so far (glassnet's model file), replaced atomically

A line cut short by a crash (the last one, without its newline) is dropped when the sweep is resumed. A lock
on DIR/.lock keeps two sweeps from writing to one folder.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from glassnet._base.files import atomic_write

FORMAT, VERSION = "glassnet.sweep", 1
SPEC, TRIALS, BEST, LOCK = "sweep.json", "trials.jsonl", "best.npz", ".lock"


def read_records(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """The records of a trials.jsonl file; a last line cut short is ignored (and cut off with ``repair``)."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    complete = raw[:raw.rfind(b"\n") + 1]
    if repair and len(complete) != len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(complete))
    records = []
    for n, line in enumerate(complete.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"{path} line {n} is not JSON ({line[:40]!r}...); fix or remove that line") from None
        if not isinstance(record, dict) or "trial" not in record or "status" not in record:
            raise ValueError(f"{path} line {n} is not a trial record (it lacks 'trial' or 'status')")
        records.append(record)
    return records


def read_spec(folder: Path) -> dict[str, Any]:
    path = folder / SPEC
    if not path.is_file():
        raise ValueError(f"{folder} holds no sweep ({SPEC} is missing)")
    try:
        spec = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"{path} is not a glassnet sweep file (format {FORMAT!r})")
    if int(spec.get("version", 0)) > VERSION:
        raise ValueError(f"{path} was written by a newer glassnet (sweep format version {spec['version']}; "
                         f"this one reads up to {VERSION})")
    return spec


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"{key} was {json.dumps(old.get(key))[:80]}, now {json.dumps(new.get(key))[:80]}"
    return ""


class TrialLog:
    """Records of one sweep: in memory, and in ``folder`` when given."""

    def __init__(self, folder: str | os.PathLike | None, spec: dict[str, Any], resume: bool = False) -> None:
        self.folder = None if folder is None else Path(folder)
        self.spec = json.loads(json.dumps({"format": FORMAT, "version": VERSION, **spec}))  # as read back
        self.records: list[dict[str, Any]] = []
        self._lock = None
        if self.folder is None:
            if resume:
                raise ValueError("resume needs the folder of the sweep to continue (out=DIR)")
            return
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"--out {self.folder} is a file, not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self._open(resume)
        except BaseException:
            self.close()
            raise

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # no advisory locks here (Windows): one sweep per folder is the user's care
            return
        self._lock = open(self.folder / LOCK, "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise ValueError(f"{self.folder} is in use by another running sweep") from None

    def _open(self, resume: bool) -> None:
        spec_path, trials_path = self.folder / SPEC, self.folder / TRIALS
        if spec_path.exists() or trials_path.exists():
            if not resume:
                raise ValueError(f"{self.folder} already holds a sweep; --resume continues it, or choose "
                                 "another --out")
            old = read_spec(self.folder)
            if old != self.spec:
                raise ValueError(f"{self.folder} holds a different sweep ({_difference(old, self.spec)}); "
                                 "resume it with the same settings, or choose another --out")
            seen = set()
            for r in read_records(trials_path, repair=True):
                key = (r["trial"], r.get("rung", 0))
                if key not in seen:
                    seen.add(key)
                    self.records.append(r)
        else:
            text = json.dumps(self.spec, indent=1) + "\n"
            atomic_write(spec_path, lambda f: f.write(text.encode()))

    @property
    def best_path(self) -> Path | None:
        return None if self.folder is None else self.folder / BEST

    def append(self, record: dict[str, Any]) -> None:
        """Add a finished trial's record (one line, flushed and synced)."""
        self.records.append(record)
        if self.folder is not None:
            line = (json.dumps(record, sort_keys=False, allow_nan=True) + "\n").encode()
            fd = os.open(self.folder / TRIALS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None
