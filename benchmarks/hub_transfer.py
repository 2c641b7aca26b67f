"""Upload and download throughput of one file through the embedded Hub, against copying it on disk.

    python benchmarks/hub_transfer.py [--size-mb 90] [--repeat 3]

Starts a fresh embedded Hub on a free loopback port, uploads the file with hubtools' client (LFS batch API)
and with a stock HfApi (inline, as any client with hf_xet gets), downloads it with hf_hub_download, and
prints MB/s and the ratio to a plain disk copy (best of --repeat runs each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def best_seconds_interleaved(actions: dict[str, Callable[[int], None]], repeat: int) -> dict[str, float]:
    """Run every action once per round, `repeat` rounds, so all see the same machine load; keep each one's best."""
    best = {name: float("inf") for name in actions}
    for attempt in range(repeat):
        for name, action in actions.items():
            start = time.perf_counter()
            action(attempt)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from hubtools.hub.server import free_port

    work = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    port = free_port()
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    os.environ["HF_HOME"] = str(work / "hf-home")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

    from huggingface_hub import HfApi, hf_hub_download

    from hubtools.hub import issue_token, serve_in_background
    from hubtools.hubclient import hub_api

    size = args.size_mb * 1000 * 1000
    source = work / "payload.bin"
    source.write_bytes(os.urandom(size))
    server = serve_in_background(work / "hub", port=port)
    try:
        token = issue_token(work / "hub", "bench", ["bench"])
        api = hub_api(token=token)
        stock = HfApi(token=token)
        api.create_repo("bench/transfer")

        def disk_copy(attempt: int) -> None:
            shutil.copyfile(source, work / f"copy-{attempt}.bin")

        def upload_with(client: HfApi, label: str) -> Callable[[int], None]:
            def upload(attempt: int) -> None:
                # fresh content each time so no run is deduplicated by the server
                with source.open("r+b") as handle:
                    handle.write(f"{label}-{attempt}-{time.time()}".encode())
                client.upload_file(path_or_fileobj=source, path_in_repo="payload.bin", repo_id="bench/transfer")

            return upload

        def download(attempt: int) -> None:
            hf_hub_download("bench/transfer", "payload.bin", cache_dir=work / f"cache-{attempt}")

        def download_with_curl(attempt: int) -> None:
            url = f"{os.environ['HF_ENDPOINT']}/bench/transfer/resolve/main/payload.bin"
            subprocess.run(["curl", "-sf", "-o", str(work / f"curl-{attempt}.bin"), url], check=True)

        actions = {
            "disk copy": disk_copy,
            "upload, hubtools client (LFS)": upload_with(api, "hubtools"),
            "upload, stock HfApi (inline)": upload_with(stock, "stock"),
            "download, hf_hub_download": download,
        }
        if shutil.which("curl"):
            actions["download, curl (server side)"] = download_with_curl
        best = best_seconds_interleaved(actions, args.repeat)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    mb = size / 1e6
    load = os.getloadavg()[0]
    print(f"file: {mb:.0f} MB, best of {args.repeat}, {os.cpu_count()} CPUs, load average {load:.1f} during the run")
    copy_s = best.pop("disk copy")
    print(f"{'disk copy (shutil.copyfile):':31s}{mb / copy_s:8.0f} MB/s")
    for label, seconds in best.items():
        print(f"{label + ':':31s}{mb / seconds:8.0f} MB/s   {copy_s / seconds:5.2f} x disk copy")


if __name__ == "__main__":
    main()
