"""End every process of a Space, whatever it did to its session or process group: by uid, or by session.

When the Hub is root each Space runs under a uid of its own (`space_process.space_uid`): a process can leave its
process group and session (`setsid`, a double fork) but never its uid, so "every process of the Space" is every
process that uid runs (`end_processes`). The Hub sweeps its Spaces' uids when it starts, before it listens on its port
(`end_leftovers`), and a reaper process started with it (`start_reaper`, root, its own session, out of the apps'
reach) sweeps them the moment the Hub exits, even by SIGKILL. A Hub that is not root runs apps as itself: then the
processes of an app are those of its session, which a `setsid` leaves (docs/hub.md, "What a Space can and cannot do").

`python -m hubtools.hub.space_reaper FIRST_UID LAST_UID WORK_ROOT` is the reaper: it waits for end of file on its
standard input (the Hub holds the only write end), ends every process whose uid is in FIRST_UID..LAST_UID, and then
removes WORK_ROOT, the apps' work folders (which a Hub killed by SIGKILL could not).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from hubtools.errors import HubtoolsError

SWEEP_TIMEOUT_S = 10
SPACE_UID_BASE = 1 << 20  # far above the uids distributions hand out
UIDS_PER_HUB = 1 << 16


def space_uids(root: Path) -> range | None:
    """The block of uids of one Hub root's Spaces (None when the Hub is not root and cannot switch users).

    One block per Hub root, one uid per Space in it, so two Hubs on a machine rarely share a uid.
    """
    if os.geteuid() != 0:
        return None
    block = zlib.crc32(str(Path(root).resolve()).encode()) % 2048
    first = SPACE_UID_BASE + block * UIDS_PER_HUB
    return range(first, first + UIDS_PER_HUB)


def space_uid(root: Path, repo_pk: int) -> int | None:
    """The uid (and gid) a Space's app runs as: None when the Hub is not root."""
    uids = space_uids(root)
    if uids is None:
        return None
    uid = uids[repo_pk % UIDS_PER_HUB]
    try:
        account = pwd.getpwuid(uid)
    except KeyError:
        return uid
    raise HubtoolsError(f"uid {uid}, meant for Space apps of {root}, belongs to the account {account.pw_name}; remove it")


def process_ids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def process_uids(pid: int) -> tuple[int, ...] | None:
    """Real, effective, saved and filesystem uid of a live process (None: gone, or a zombie, which holds nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if fields.get("State", "").split()[:1] in (["Z"], ["X"]):
        return None
    return tuple(int(uid) for uid in fields["Uid"].split())


def session_id(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])  # state, ppid, pgrp, session
    except (OSError, IndexError, ValueError):
        return None


def processes_of_uids(uids: range) -> list[int]:
    """Live processes running under any uid in `uids` (by any of their uids)."""
    found = []
    for pid in process_ids():
        owned = process_uids(pid)
        if owned is not None and any(uid in uids for uid in owned):
            found.append(pid)
    return found


def processes_of_session(sid: int) -> list[int]:
    return [pid for pid in process_ids() if session_id(pid) == sid and process_uids(pid) is not None]


def end_all(find: Callable[[], list[int]], timeout: float = SWEEP_TIMEOUT_S) -> bool:
    """SIGKILL whatever `find` returns, again and again, until it returns nothing (True) or `timeout` passes (False).

    Repeating catches the children a process forked between the scan and its kill; a process that is killed forks
    no more, so each round leaves fewer.
    """
    deadline = time.monotonic() + timeout
    while pids := find():
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    return True


def end_processes(uids: range) -> bool:
    """End every process of these uids (root only: another user's processes cannot be signalled)."""
    return end_all(lambda: processes_of_uids(uids))


def end_leftovers(root: Path) -> bool:
    """Before a Hub on `root` listens: end what its Spaces left running (a Hub killed before its reaper swept)."""
    uids = space_uids(root)
    return uids is None or end_processes(uids)


def start_reaper(uids: range, work_root: Path) -> int:
    """Start the reaper for `uids` and `work_root`; returns the write end of its pipe, which the caller keeps open
    while it lives."""
    read_end, write_end = os.pipe()
    subprocess.Popen(
        [sys.executable, "-m", "hubtools.hub.space_reaper", str(uids.start), str(uids.stop - 1), str(work_root)],
        stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    os.close(read_end)
    return write_end


def main(first_uid: str, last_uid: str, work_root: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl+C meant for the Hub reaches its session only; be safe anyway
    while sys.stdin.buffer.read(4096):
        pass
    end_processes(range(int(first_uid), int(last_uid) + 1))
    shutil.rmtree(work_root, ignore_errors=True)  # no symlink followed; nothing of the apps runs any more


if __name__ == "__main__":
    main(*sys.argv[1:4])
