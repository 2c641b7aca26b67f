"""What one Space may use, and the check that stops an app at its limits.

Two layers, because neither suffices alone on a machine without a writable cgroup v2 (docs/hub.md):
- The kernel, per process (setrlimit in the app's launcher, hard and soft alike, so the app cannot raise them):
  file size, open files, the data segment (a backstop at `DATA_BACKSTOP` times the memory limit, for an
  allocation faster than the check below), and, when the Space has a uid of its own, its processes and threads.
- The Hub, for the Space as a whole: `exceeded(measure(...))` adds up what all the Space's processes hold (anonymous
  memory (PSS), processes and threads) and what its work folder holds, and names the first limit reached, so the Hub can
  stop the app with that line in its log. A limit the kernel enforces is reported once it is reached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
DATA_BACKSTOP = 2
MAX_FOLDER_ENTRIES = 100_000  # files and folders in a work folder; more is refused like a full disk
CHECK_INTERVAL_S = 0.25


@dataclass(frozen=True)
class SpaceLimits:
    """Per-Space limits and how Space starts are scheduled (`hubtools hub serve --space-...` overrides each)."""

    memory_mb: int = 2048  # anonymous memory of all the Space's processes together (proportional set size)
    processes: int = 1024  # processes and threads (RLIMIT_NPROC counts both; torch starts one per core, twice)
    open_files: int = 1024  # per process
    file_size_mb: int = 2048  # any file the app writes: a demo Space downloads its model's weights into its folder
    disk_mb: int = 4096  # its work folder (HOME, TMPDIR and HF_HOME are in it), the Space's own files included
    start_slots: int = 2  # apps starting at once; one more waits for a slot
    start_timeout_s: float = 300  # an app not answering by then is stopped (RUNTIME_ERROR) and frees its slot

    def rlimits(self, own_uid: bool) -> dict[str, int]:
        """The kernel's share, per process; RLIMIT_NPROC counts every process of a uid, so only a Space's own uid."""
        limits = {
            "RLIMIT_DATA": DATA_BACKSTOP * self.memory_mb * MIB,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_FSIZE": self.file_size_mb * MIB,
            "RLIMIT_CORE": 0,
        }
        if own_uid:
            limits["RLIMIT_NPROC"] = self.processes
        return limits


@dataclass(frozen=True)
class Usage:
    memory_bytes: int = 0
    tasks: int = 0
    most_open_files: int = 0
    largest_written_file: int = 0
    disk_bytes: int = 0
    folder_entries: int = 0


def proc_fields(path: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in Path(path).read_text().splitlines() if ":" in line)


def kib(fields: dict[str, str], name: str) -> int:
    return int(fields.get(name, "0 kB").split()[0]) * 1024


def private_memory(pid: int) -> int:
    """Anonymous and shared-memory pages, each shared page counted once across the processes sharing it (PSS):
    a forked child's copy-on-write pages are not counted twice. Before Linux 5.8 (no Pss_Anon): resident anonymous."""
    rollup = proc_fields(f"/proc/{pid}/smaps_rollup")
    if "Pss_Anon" in rollup:
        return kib(rollup, "Pss_Anon") + kib(rollup, "Pss_Shmem")
    return kib(rollup, "Anonymous")


def process_usage(pids: list[int]) -> Usage:
    memory = tasks = most_open = 0
    for pid in pids:
        try:
            status = proc_fields(f"/proc/{pid}/status")
            memory += private_memory(pid)
            most_open = max(most_open, len(os.listdir(f"/proc/{pid}/fd")))
        except OSError:
            continue  # gone meanwhile
        tasks += int(status.get("Threads", "1"))
    return Usage(memory_bytes=memory, tasks=tasks, most_open_files=most_open)


def folder_usage(folder: Path, own_files: dict[str, tuple[int, int]]) -> tuple[int, int, int]:
    """(bytes, entries, largest file the app wrote) of `folder`; `own_files` are the Space's files as copied
    (relative path → size and mtime), which may be larger than the file-size limit as long as the app leaves them."""
    total = entries = largest = 0
    for parent, folders, files in os.walk(folder):
        entries += len(folders) + len(files)
        if entries > MAX_FOLDER_ENTRIES:
            break
        for name in files:
            path = os.path.join(parent, name)
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            total += stat.st_size
            if own_files.get(os.path.relpath(path, folder)) != (stat.st_size, stat.st_mtime_ns):
                largest = max(largest, stat.st_size)
    return total, entries, largest


def measure(pids: list[int], folder: Path, own_files: dict[str, tuple[int, int]]) -> Usage:
    processes = process_usage(pids)
    disk, entries, largest = folder_usage(folder, own_files)
    return Usage(processes.memory_bytes, processes.tasks, processes.most_open_files, largest, disk, entries)


def exceeded(limits: SpaceLimits, usage: Usage) -> str | None:
    """The first limit `usage` reached, as the line the app's log gets; None within every limit."""
    if usage.memory_bytes >= limits.memory_mb * MIB:
        return f"its processes hold {usage.memory_bytes // MIB} MiB of memory: the Space memory limit is {limits.memory_mb} MiB"
    if usage.tasks >= limits.processes:
        return f"it reached the Space limit of {limits.processes} processes and threads"
    if usage.most_open_files >= limits.open_files:
        return f"a process reached the Space limit of {limits.open_files} open files"
    if usage.largest_written_file >= limits.file_size_mb * MIB:
        return f"a file it wrote reached the Space file-size limit of {limits.file_size_mb} MiB"
    if usage.disk_bytes >= limits.disk_mb * MIB or usage.folder_entries > MAX_FOLDER_ENTRIES:
        return f"its work folder reached the Space disk limit of {limits.disk_mb} MiB (or {MAX_FOLDER_ENTRIES} entries)"
    return None


def snapshot_files(folder: Path) -> dict[str, tuple[int, int]]:
    """The Space's own files in its work folder, before the app starts (see `folder_usage`)."""
    found = {}
    for path in folder.rglob("*"):
        stat = path.lstat()
        found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found
