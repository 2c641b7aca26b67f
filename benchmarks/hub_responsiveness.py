"""Responsiveness of the embedded Hub under a large listing and an oversized anonymous body.

    python benchmarks/hub_responsiveness.py [--files 20000]

Starts a fresh embedded Hub on a free loopback port, commits --files one-byte files through the store (fast),
lists them with a stock `HfApi.list_repo_tree(recursive=True, expand=True)` (which follows the `Link` pages)
while another thread calls `whoami` every 50 ms on one connection, and prints the listing time and the
`whoami` latencies. Then it announces a 600 MB anonymous `POST /api/validate-yaml` on a bare socket, sends no
body, and prints the answer, how long it took and the server's RSS before and after.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from huggingface_hub import HfApi

from hubtools.hub import BackgroundHub, issue_token, serve_in_background
from hubtools.hub.store import FileEntry, HubStore

REPO = "acme/many-files"


def server_rss_mb(hub: BackgroundHub) -> float:
    status = Path(f"/proc/{hub.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


def commit_files(root: Path, count: int) -> None:
    store = HubStore(root)
    blob = store.put_bytes(b"x")
    files = [FileEntry(f"shard-{i // 1000:02d}/file-{i:05d}.txt", blob.sha256, blob.size, False, blob.blob_id) for i in range(count)]
    store.apply_commit(store.get_repo("model", *REPO.split("/")), "main", files, "alice", f"{count} files", "")


def list_while_probing(hub: BackgroundHub, token: str) -> tuple[int, float, list[float]]:
    """(entries listed, seconds, whoami latencies in seconds)."""
    latencies: list[float] = []
    listed = threading.Event()

    def probe() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            while not listed.is_set():
                started = time.monotonic()
                client.get(f"{hub.endpoint}/api/whoami-v2").raise_for_status()
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    started = time.monotonic()
    try:
        entries = sum(1 for _ in HfApi(endpoint=hub.endpoint).list_repo_tree(REPO, recursive=True, expand=True))
    finally:
        listed.set()
        prober.join()
    return entries, time.monotonic() - started, latencies


def announce_oversized_body(hub: BackgroundHub, size: int) -> tuple[str, float]:
    """(status line, seconds) for an anonymous validate-yaml POST announcing `size` bytes and sending none."""
    with socket.create_connection((hub.host, hub.port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(f"POST /api/validate-yaml HTTP/1.1\r\nHost: {hub.host}\r\nContent-Length: {size}\r\n\r\n".encode())
        status_line = sock.recv(4096).split(b"\r\n")[0].decode()
    return status_line, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-responsiveness-") as folder:
        root = Path(folder)
        hub = serve_in_background(root)  # port 0: bound by the Hub itself
        try:
            token = issue_token(root, "alice", ["acme"])
            HfApi(endpoint=hub.endpoint, token=token).create_repo(REPO)
            commit_files(root, args.files)
            entries, seconds, latencies = list_while_probing(hub, token)
            print(f"list_repo_tree(recursive, expand): {entries} entries in {seconds:.1f} s; whoami meanwhile:"
                  f" {len(latencies)} calls, median {statistics.median(latencies) * 1000:.0f} ms,"
                  f" max {max(latencies) * 1000:.0f} ms")
            rss_before = server_rss_mb(hub)
            status_line, seconds = announce_oversized_body(hub, 600 * 1024 * 1024)
            print(f"anonymous 600 MB validate-yaml: {status_line} after {seconds * 1000:.0f} ms;"
                  f" server RSS {rss_before:.0f} -> {server_rss_mb(hub):.0f} MB")
        finally:
            hub.close()


if __name__ == "__main__":
    main()
