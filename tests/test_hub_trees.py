"""The Hub store's trees: storage grows with changes, roots of the previous schema are converted, gc scans unlocked."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from hubtools.hub.errors import Conflict
from hubtools.hub.store import FileEntry, HubStore, Repo, git_blob_id

ORG = "acme"
TWO_DAYS_AGO = time.time() - 2 * 86400


def add(store: HubStore, path: str, content: bytes) -> FileEntry:
    blob = store.put_bytes(content)
    return FileEntry(path, blob.sha256, blob.size, False, blob.blob_id)


def tree_rows(store: HubStore, repo: Repo) -> int:
    with store._connect() as db:
        return db.execute("SELECT COUNT(*) FROM trees WHERE repo_id = ?", (repo.pk,)).fetchone()[0]


def test_commits_changing_one_file_add_the_trees_on_its_path_not_a_copy_of_every_file(tmp_path):
    store = HubStore(tmp_path)
    repo = store.create_repo("model", ORG, "many", False, None, "alice")
    paths = [f"d{i}/e{j}/f{k}.txt" for i in range(4) for j in range(4) for k in range(4)]  # 64 files, depth 3
    first, _ = store.apply_commit(repo, "main", [add(store, p, p.encode()) for p in paths], "alice", "all", "")
    before = tree_rows(store, repo)

    commits = 20
    for n in range(commits):
        store.apply_commit(repo, "main", [add(store, paths[n * 3], b"v%d" % n)], "alice", f"change {n}", "")

    # Each commit writes the 3 trees on the changed path: root (.gitattributes + 4 folders), d?, d?/e? (4 entries each).
    assert tree_rows(store, repo) - before == commits * (5 + 4 + 4)  # a full copy per commit would be 20 x 65 rows
    head = store.resolve(repo, "main")
    assert len(store.files(head)) == 65
    assert store.file_entry(head, paths[57]).sha256 == hashlib.sha256(b"v19").hexdigest()
    assert store.file_entry(first, paths[57]).sha256 == hashlib.sha256(paths[57].encode()).hexdigest()
    assert [c.title for c in store.path_history(head, paths[3])] == ["change 1", "all"]
    assert store.last_commits(head, ["d0", "d3", "d3/e3/f3.txt"])["d3"].title == "change 19"

    files = store.files(head)
    store.super_squash(repo, "main", "squashed", "alice")  # old commits go, and the trees only they reached
    assert tree_rows(store, repo) == 5 + 4 * 4 + 16 * 4
    assert store.files(store.resolve(repo, "main")) == files


OLD_SCHEMA = """
CREATE TABLE repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    private INTEGER NOT NULL, sdk TEXT, created REAL NOT NULL, pr_counter INTEGER NOT NULL DEFAULT 0,
    UNIQUE (type, namespace, name));
CREATE TABLE commits (
    id TEXT PRIMARY KEY, repo_id INTEGER NOT NULL, parent TEXT, author TEXT NOT NULL, title TEXT NOT NULL,
    message TEXT NOT NULL, date REAL NOT NULL, merge_parent TEXT);
CREATE TABLE files (
    commit_id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    is_lfs INTEGER NOT NULL, blob_id TEXT NOT NULL, PRIMARY KEY (commit_id, path));
CREATE TABLE refs (
    repo_id INTEGER NOT NULL, ref TEXT NOT NULL, commit_id TEXT NOT NULL, PRIMARY KEY (repo_id, ref));
CREATE INDEX files_by_sha256 ON files (sha256);
"""


def old_blob(root: Path, path: str, content: bytes, is_lfs: bool = False) -> FileEntry:
    sha256 = hashlib.sha256(content).hexdigest()
    (root / "blobs" / sha256[:2]).mkdir(parents=True, exist_ok=True)
    (root / "blobs" / sha256[:2] / sha256[2:]).write_bytes(content)
    os.utime(root / "blobs" / sha256[:2] / sha256[2:], (TWO_DAYS_AGO, TWO_DAYS_AGO))
    return FileEntry(path, sha256, len(content), is_lfs, git_blob_id(content))


def test_a_root_written_with_a_files_row_per_commit_is_converted_to_trees_on_open(tmp_path):
    first = [old_blob(tmp_path, ".gitattributes", b"*.bin filter=lfs\n"), old_blob(tmp_path, "a/b.txt", b"one")]
    second = [first[0], old_blob(tmp_path, "a/b.txt", b"two"), old_blob(tmp_path, "c/d/e.bin", b"weights", True)]
    with sqlite3.connect(tmp_path / "hub.sqlite") as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO repos VALUES (1, 'model', ?, 'old', 0, NULL, ?, 0)", (ORG, TWO_DAYS_AGO))
        for commit_id, parent, files in (("1" * 40, None, first), ("2" * 40, "1" * 40, second)):
            db.execute("INSERT INTO commits VALUES (?, 1, ?, 'alice', ?, '', ?, NULL)",
                       (commit_id, parent, commit_id[0], TWO_DAYS_AGO))
            db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                           [(commit_id, f.path, f.sha256, f.size, int(f.is_lfs), f.blob_id) for f in files])
        db.execute("INSERT INTO refs VALUES (1, 'refs/heads/main', ?)", ("2" * 40,))
    db.close()

    store = HubStore(tmp_path)
    repo = store.get_repo("model", ORG, "old")
    assert store.files("1" * 40) == {f.path: f for f in first} and store.files("2" * 40) == {f.path: f for f in second}
    assert store.file_entry("2" * 40, "c/d/e.bin") == second[2] and store.files_below("2" * 40, "c") == [second[2]]
    assert [c.id for c in store.path_history("2" * 40, "a/b.txt")] == ["2" * 40, "1" * 40]
    with store._connect() as db:  # the old table is dropped once converted
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'files'").fetchone() is None
    assert HubStore(tmp_path).files(store.resolve(repo, "main")) == {f.path: f for f in second}  # opened again

    head, _ = store.apply_commit(repo, "main", [add(store, "a/new.txt", b"new")], "alice", "after", "")
    assert sorted(store.files(head)) == [".gitattributes", "a/b.txt", "a/new.txt", "c/d/e.bin"]
    report = store.collect_garbage(86400)  # every old blob is still held by a converted commit ("one" by the first)
    assert report.removed_blobs == 0 and all(store.has_blob(f.sha256) for f in first + second)


def test_gc_scans_without_the_write_lock_and_spares_a_blob_committed_during_the_scan(tmp_path):
    store = HubStore(tmp_path)
    repo = store.create_repo("model", ORG, "gc", False, None, "alice")
    late, garbage = add(store, "late.txt", b"committed while gc scans"), add(store, "never.txt", b"never committed")
    for blob in (late, garbage):
        os.utime(store.blob_path(blob.sha256), (TWO_DAYS_AGO, TWO_DAYS_AGO))
    scanned, resume = threading.Event(), threading.Event()
    reports = []

    def pause_after_scan() -> None:
        scanned.set()
        resume.wait(timeout=60)

    collector = threading.Thread(
        target=lambda: reports.append(store.collect_garbage(86400, after_scan=pause_after_scan)))
    collector.start()
    try:
        assert scanned.wait(timeout=60)
        probe = sqlite3.connect(store.db_path, timeout=0, isolation_level=None)
        probe.execute("BEGIN IMMEDIATE")  # raises "database is locked" at once if gc held the write lock
        probe.execute("ROLLBACK")
        probe.close()
        store.apply_commit(repo, "main", [late], "alice", "late", "")
    finally:
        resume.set()
        collector.join()

    assert store.has_blob(late.sha256) and not store.has_blob(garbage.sha256)
    assert reports[0].removed_blobs == 1 and reports[0].referenced == 2  # .gitattributes, and late.txt judged again


def test_a_merge_that_would_make_a_path_both_a_file_and_a_folder_is_refused_and_changes_nothing(tmp_path):
    store = HubStore(tmp_path)
    repo = store.create_repo("model", ORG, "merge", False, None, "alice")
    num = store.open_discussion(repo, "folder", "", "alice", is_pull_request=True)
    store.apply_commit(repo, f"refs/pr/{num}", [add(store, "a/b.txt", b"in a folder")], "alice", "folder a", "")
    head, _ = store.apply_commit(repo, "main", [add(store, "a", b"a file")], "alice", "file a", "")

    with pytest.raises(Conflict, match="'a' would be both a file and the folder of 'a/b.txt'"):
        store.merge_pull_request(repo, num, "alice", None)
    assert store.resolve(repo, "main") == head and sorted(store.files(head)) == [".gitattributes", "a"]
