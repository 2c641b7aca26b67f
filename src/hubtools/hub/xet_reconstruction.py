"""The Xet reconstruction API's answers (spec: huggingface.co/docs/xet, download protocol), from `XetFiles`.

`GET /v1/reconstructions/{file_hash}` answers the file's terms, for a byte range when asked, with `fetch_info`:
for each term a signed URL to its chunks (`/xet-cas/v1/xorb-ranges/{xorb}/{start}-{end}`) and the HTTP byte range
to ask for. The URL's signature binds the xorb, the chunk range, an expiry, the repo and the hash of the Hub token
of the CAS token that asked (empty: anonymous), so it reveals no other chunk and dies with that token or the
caller's access to the repo (checked on every fetch, `xet_cas.current_grant`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from hubtools.hub.auth import signatures_match
from hubtools.hub.errors import Forbidden, InvalidRequest, RangeNotSatisfiable
from hubtools.hub.xet_files import XetFile, XetFiles, virtual_offsets

FETCH_URL_LIFETIME_S = 3600
RANGE_HEADER = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class ChunkSpan:
    """Chunks [start, end) of a xorb, as a fetch URL names them."""

    xorb: str
    start: int
    end: int


def parse_range(header: str | None, size: int) -> tuple[int, int]:
    """[start, end) of a single `bytes=a-b` / `bytes=a-` range over `size` bytes; the whole when no header."""
    if header is None:
        return 0, size
    match = RANGE_HEADER.match(header.strip())
    if not match:
        raise InvalidRequest(f"Unsupported Range header {header[:80]!r}: use one range, bytes=start-end")
    start = int(match[1])
    end = min(int(match[2]) + 1, size) if match[2] else size
    if start >= size or end <= start:
        raise RangeNotSatisfiable(f"Range {header!r} is outside the file's {size} bytes")
    return start, end


@dataclass(frozen=True)
class FetchGrant:
    """Who a fetch URL was signed for: a repo and a Hub token's hash ("" when anonymous), until `expires`."""

    repo_pk: int
    token_hash: str
    expires: int

    def query(self, secret: bytes, span: ChunkSpan) -> str:
        return f"expires={self.expires}&repo={self.repo_pk}&sub={self.token_hash}&sig={fetch_signature(secret, span, self)}"


def fetch_signature(secret: bytes, span: ChunkSpan, grant: FetchGrant) -> str:
    message = f"xorb-range:{span.xorb}:{span.start}:{span.end}:{grant.expires}:{grant.repo_pk}:{grant.token_hash}"
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def check_fetch_signature(secret: bytes, span: ChunkSpan, grant: FetchGrant, signature: str, now: float) -> None:
    if not signatures_match(signature, fetch_signature(secret, span, grant)):
        raise Forbidden("Invalid xorb range URL: ask /v1/reconstructions again")
    if grant.expires <= now:
        raise Forbidden("Expired xorb range URL: ask /v1/reconstructions again")


def reconstruction(
    files: XetFiles, file: XetFile, byte_range: tuple[int, int], secret: bytes, cas_url: str, grant: FetchGrant
) -> dict:
    """The `QueryReconstructionResponse` (v1) for bytes [start, end) of `file`, its URLs signed for `grant`."""
    start, end = byte_range
    terms: list[dict] = []
    fetch_info: dict[str, list[dict]] = {}
    offset_into_first_range = 0
    for term in files.terms(file.file_hash):
        sizes = files.chunk_sizes(term.xorb)
        first, last, position = term.chunk_start, term.chunk_end, term.file_offset
        term_end = position + sum(sizes[first:last])
        if term_end <= start or position >= end:
            continue
        while position + sizes[first] <= start:  # skip the chunks before the range
            position += sizes[first]
            first += 1
        if not terms:
            offset_into_first_range = start - position
        used = position
        last = first
        while last < term.chunk_end and used < end:
            used += sizes[last]
            last += 1
        span = ChunkSpan(term.xorb, first, last)
        offsets = virtual_offsets(sizes)
        terms.append({"hash": term.xorb, "unpacked_length": sum(sizes[first:last]), "range": {"start": first, "end": last}})
        url = f"{cas_url}/v1/xorb-ranges/{span.xorb}/{first}-{last}?{grant.query(secret, span)}"
        info = {"range": {"start": first, "end": last}, "url": url,
                "url_range": {"start": offsets[first], "end": offsets[last] - 1}}
        if info not in fetch_info.setdefault(term.xorb, []):
            fetch_info[term.xorb].append(info)
    return {"offset_into_first_range": offset_into_first_range, "terms": terms, "fetch_info": fetch_info}
