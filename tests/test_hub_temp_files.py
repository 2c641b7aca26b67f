"""The Hub's start-up clean-up of partial uploads, while another process on the same root is uploading."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hubtools.hub.app import create_app
from hubtools.hub.limits import TEMP_UPLOAD_GRACE_SECONDS


def test_start_up_tolerates_a_temp_file_that_vanishes_between_listing_and_stat(tmp_path: Path) -> None:
    """A concurrent upload renames its temp file into the blob store after start-up listed tmp/: stat() then raises
    FileNotFoundError. A link whose target is gone gives stat() exactly that, deterministically."""
    create_app(tmp_path)  # creates tmp/
    leftover = tmp_path / "tmp" / "upload-killed"
    leftover.write_bytes(b"half an upload")
    old = time.time() - 2 * TEMP_UPLOAD_GRACE_SECONDS
    os.utime(leftover, (old, old))
    (tmp_path / "tmp" / "upload-renamed").symlink_to(tmp_path / "blobs" / "moved-away")

    create_app(tmp_path)

    assert not leftover.exists()  # the old leftover is still removed
