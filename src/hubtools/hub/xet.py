"""Xet formats as the Xet protocol specification defines them: hashes, xorbs and shards (upload side).

Hashes are 32 raw bytes; in URLs and logs they are written as the spec's "hash strings" (each 8-byte group read
as a little-endian u64, printed as 16 hex digits). A xorb is verified by recomputing every chunk hash from the
decompressed data and the Merkle root from those; a shard is only parsed here (the CAS checks it against stored
xorbs).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import lz4.frame
from blake3 import blake3

from hubtools.hub.errors import InvalidRequest

DATA_KEY = bytes([
    102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
    157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41,
])
INTERNAL_NODE_KEY = bytes([
    1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
    93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63,
])
VERIFICATION_KEY = bytes([
    127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
    164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195,
])
ZERO_HASH = bytes(32)
BOOKEND_HASH = b"\xff" * 32
MEAN_BRANCHING = 4
# The spec caps a xorb at 64 MiB; hf_xet applies the cap to chunk data, so an incompressible xorb serializes a
# little larger (8-byte chunk headers, optional footer): 1 MiB of headroom.
MAX_XORB_BYTES = 65 * 1024 * 1024
MAX_SHARD_BYTES = 64 * 1024 * 1024
MAX_CHUNK_BYTES = 128 * 1024
CHUNK_HEADER = struct.Struct("<B3sB3s")
SHARD_HEADER = struct.Struct("<32sQQ")
SHARD_HEADER_VERSION = 2
SHARD_FOOTER_VERSION = 1
ENTRY = struct.Struct("<32sIIII")  # file header, file term and CAS header share this 48-byte layout
CAS_CHUNK_ENTRY = struct.Struct("<32sII8x")
HASH_AND_PAD = struct.Struct("<32s16x")  # verification entry, sha256 metadata, bookend
# version, file info, CAS info, then (offset, count) of the file, CAS and chunk lookup tables; HMAC key, creation,
# expiry, 48 reserved bytes, stored bytes on disk, materialized bytes, stored bytes, footer offset (200 bytes)
FOOTER = struct.Struct("<QQQQQQQQQ32sQQ48xQQQQ")
CAS_LOOKUP = struct.Struct("<QI")  # truncated xorb hash, xorb index
CHUNK_LOOKUP = struct.Struct("<QII")  # truncated (keyed) chunk hash, xorb index, chunk index
FLAG_WITH_VERIFICATION = 1 << 31
FLAG_WITH_METADATA_EXT = 1 << 30
COMPRESSION_NONE, COMPRESSION_LZ4, COMPRESSION_BG4_LZ4 = 0, 1, 2


class XetFormatError(InvalidRequest, ValueError):
    """A xorb or shard that does not follow the specification (answered with 400)."""


# ---------------------------------------------------------------------- hashes


def hash_hex(raw: bytes) -> str:
    return "".join(f"{int.from_bytes(raw[i:i + 8], 'little'):016x}" for i in range(0, 32, 8))


def hash_from_hex(text: str) -> bytes:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise XetFormatError(f"Invalid Xet hash {text[:80]!r}: expected 64 lowercase hex characters")
    return b"".join(int(text[i:i + 16], 16).to_bytes(8, "little") for i in range(0, 64, 16))


def chunk_hash(data: bytes) -> bytes:
    return blake3(data, key=DATA_KEY).digest()


def _node_hash(children: list[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{hash_hex(h)} : {size}\n" for h, size in children)
    return blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in children)


def _next_cut(nodes: list[tuple[bytes, int]], start: int) -> int:
    """End of the group starting at `start`: cut after a node whose hash is 0 mod 4 (at least 2, at most 9)."""
    remaining = len(nodes) - start
    if remaining <= 2:
        return len(nodes)
    end = start + min(2 * MEAN_BRANCHING + 1, remaining)
    for index in range(start + 2, end):
        if int.from_bytes(nodes[index][0][24:32], "little") % MEAN_BRANCHING == 0:
            return index + 1
    return end


def merkle_root(chunks: list[tuple[bytes, int]]) -> bytes:
    """The aggregated hash of (chunk hash, size) pairs: the xorb hash of a xorb holding these chunks."""
    if not chunks:
        return ZERO_HASH
    nodes = list(chunks)
    while len(nodes) > 1:
        grouped, start = [], 0
        while start < len(nodes):
            end = _next_cut(nodes, start)
            grouped.append(_node_hash(nodes[start:end]))
            start = end
        nodes = grouped
    return nodes[0][0]


def file_hash(chunks: list[tuple[bytes, int]]) -> bytes:
    if not chunks:
        return ZERO_HASH
    return blake3(merkle_root(chunks), key=ZERO_HASH).digest()


def verification_hash(chunk_hashes: list[bytes]) -> bytes:
    return blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


# ---------------------------------------------------------------------- xorbs


def _u24(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _ungroup_bytes(grouped: bytes) -> bytes:
    """Invert byte grouping: group g holds bytes g, g+4, g+8, ... and the first n % 4 groups are one longer."""
    size = len(grouped)
    lengths = [size // 4 + (1 if g < size % 4 else 0) for g in range(4)]
    out = bytearray(size)
    offset = 0
    for g, length in enumerate(lengths):
        out[g::4] = grouped[offset:offset + length]
        offset += length
    return bytes(out)


def _lz4_bounded(payload: bytes, size: int) -> bytes:
    """LZ4-frame decompress at most `size` bytes (a chunk's declared size, itself at most MAX_CHUNK_BYTES): a
    payload that would expand further is refused without allocating its output."""
    decompressor = lz4.frame.LZ4FrameDecompressor()
    data = decompressor.decompress(payload, max_length=min(size, MAX_CHUNK_BYTES) + 1)
    if len(data) > size or not decompressor.eof:
        raise XetFormatError(f"Chunk does not decompress to the {size} bytes its header declares")
    return data


def decompress_chunk(scheme: int, payload: bytes, size: int) -> bytes:
    if size > MAX_CHUNK_BYTES:
        raise XetFormatError(f"Chunk declares {size} bytes; chunks are at most {MAX_CHUNK_BYTES}")
    try:
        if scheme == COMPRESSION_NONE:
            data = payload
        elif scheme == COMPRESSION_LZ4:
            data = _lz4_bounded(payload, size)
        elif scheme == COMPRESSION_BG4_LZ4:
            data = _ungroup_bytes(_lz4_bounded(payload, size))
        else:
            raise XetFormatError(f"Unknown chunk compression scheme {scheme}")
    except RuntimeError as exc:
        raise XetFormatError(f"Chunk does not decompress: {exc}") from None
    if len(data) != size:
        raise XetFormatError(f"Chunk decompresses to {len(data)} bytes, its header says {size}")
    return data


def _has_footer_at(body: bytes, offset: int) -> bool:
    """Whether a XorbObjectInfo footer (its length in the last 4 bytes) starts exactly at `offset`."""
    return len(body) - offset >= 4 and int.from_bytes(body[-4:], "little") == len(body) - offset - 4


@dataclass(frozen=True)
class ChunkRef:
    """Where one chunk sits in a serialized xorb."""

    offset: int  # of its compressed data
    compressed: int
    scheme: int
    size: int

    def read(self, body: bytes) -> bytes:
        return decompress_chunk(self.scheme, body[self.offset:self.offset + self.compressed], self.size)


def index_xorb(body: bytes) -> list[ChunkRef]:
    """The chunk headers of a serialized xorb, checked for sizes; a metadata footer after them is allowed."""
    if len(body) > MAX_XORB_BYTES:
        raise XetFormatError(f"Xorb is {len(body)} bytes; the limit is {MAX_XORB_BYTES}")
    refs: list[ChunkRef] = []
    offset = 0
    while offset + CHUNK_HEADER.size <= len(body):
        version, compressed_raw, scheme, size_raw = CHUNK_HEADER.unpack_from(body, offset)
        ref = ChunkRef(offset + CHUNK_HEADER.size, _u24(compressed_raw), scheme, _u24(size_raw))
        if version != 0 or ref.offset + ref.compressed > len(body):
            break
        if ref.size > MAX_CHUNK_BYTES:
            raise XetFormatError(f"Chunk {len(refs)} is {ref.size} bytes; chunks are at most {MAX_CHUNK_BYTES}")
        refs.append(ref)
        offset = ref.offset + ref.compressed
    if offset != len(body) and not _has_footer_at(body, offset):
        raise XetFormatError(f"Xorb byte {offset} is neither a chunk header (version 0) nor the start of its footer")
    if not refs:
        raise XetFormatError("Xorb holds no chunks")
    return refs


def xorb_chunks(body: bytes) -> list[tuple[bytes, int]]:
    """(chunk hash, size) of every chunk, hashed from the decompressed data."""
    return [(chunk_hash(data), len(data)) for data in (ref.read(body) for ref in index_xorb(body))]


# ---------------------------------------------------------------------- shards


@dataclass(frozen=True)
class Term:
    xorb: bytes
    unpacked_bytes: int
    chunk_start: int
    chunk_end: int
    verification: bytes | None


@dataclass(frozen=True)
class ShardFile:
    file_hash: bytes
    terms: list[Term]
    sha256: str | None  # hex as usual for sha256 (the shard stores it as a Xet hash, in hash-string byte order)

    @property
    def size(self) -> int:
        return sum(t.unpacked_bytes for t in self.terms)


@dataclass(frozen=True)
class ShardXorb:
    hash: bytes
    chunks: list[tuple[bytes, int]]  # (chunk hash, uncompressed size)


@dataclass(frozen=True)
class Shard:
    files: list[ShardFile]
    xorbs: list[ShardXorb]


class _Reader:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.offset = 0

    def take(self, layout: struct.Struct) -> tuple:
        if self.offset + layout.size > len(self.body):
            raise XetFormatError(f"Shard is truncated at byte {self.offset}")
        values = layout.unpack_from(self.body, self.offset)
        self.offset += layout.size
        return values


def read_shard(body: bytes) -> Shard:
    reader = _Reader(body)
    _tag, version, _footer_size = reader.take(SHARD_HEADER)
    if version != SHARD_HEADER_VERSION:
        raise XetFormatError(f"Shard header version {version}; only {SHARD_HEADER_VERSION} is supported")
    files: list[ShardFile] = []
    while True:
        hash_, flags, count, _, _ = reader.take(ENTRY)
        if hash_ == BOOKEND_HASH:
            break
        files.append(_read_file(reader, hash_, flags, count))
    xorbs: list[ShardXorb] = []
    while True:
        hash_, _flags, count, _raw_bytes, _disk_bytes = reader.take(ENTRY)
        if hash_ == BOOKEND_HASH:
            break
        entries = [reader.take(CAS_CHUNK_ENTRY) for _ in range(count)]
        xorbs.append(ShardXorb(hash_, [(h, size) for h, _start, size in entries]))
    return Shard(files, xorbs)


def _read_file(reader: _Reader, hash_: bytes, flags: int, count: int) -> ShardFile:
    raw_terms = [reader.take(ENTRY) for _ in range(count)]
    checks: list[bytes | None] = [None] * count
    if flags & FLAG_WITH_VERIFICATION:
        checks = [reader.take(HASH_AND_PAD)[0] for _ in range(count)]
    sha256 = hash_hex(reader.take(HASH_AND_PAD)[0]) if flags & FLAG_WITH_METADATA_EXT else None
    terms = [
        Term(xorb, unpacked, start, end, check)
        for (xorb, _cas_flags, unpacked, start, end), check in zip(raw_terms, checks)
    ]
    for term in terms:
        if term.chunk_end <= term.chunk_start:
            raise XetFormatError(f"File {hash_hex(hash_)}: empty chunk range [{term.chunk_start}, {term.chunk_end})")
    return ShardFile(hash_, terms, sha256)


@dataclass(frozen=True)
class StoredXorb:
    hash: bytes
    chunks: list[tuple[bytes, int]]  # (chunk hash, uncompressed size)
    disk_bytes: int


def _truncated(hash_: bytes) -> int:
    return int.from_bytes(hash_[:8], "little")


def write_dedupe_shard(xorbs: list[StoredXorb], hmac_key: bytes, expiry: int, now: int) -> bytes:
    """A global-dedupe answer: no files, one CAS block per xorb with chunk hashes keyed by `hmac_key`, the CAS and
    chunk lookup tables (sorted by truncated hash) and the footer."""
    body = bytearray(SHARD_HEADER.pack(SHARD_TAG, SHARD_HEADER_VERSION, FOOTER.size))
    file_info_offset = len(body)
    body += HASH_AND_PAD.pack(BOOKEND_HASH)
    cas_info_offset = len(body)
    chunk_lookup: list[tuple[int, int, int]] = []
    for xorb_index, xorb in enumerate(xorbs):
        body += ENTRY.pack(xorb.hash, 0, len(xorb.chunks), sum(size for _, size in xorb.chunks), xorb.disk_bytes)
        position = 0
        for chunk_index, (hash_, size) in enumerate(xorb.chunks):
            keyed = blake3(hash_, key=hmac_key).digest()
            body += CAS_CHUNK_ENTRY.pack(keyed, position, size)
            chunk_lookup.append((_truncated(keyed), xorb_index, chunk_index))
            position += size
    body += HASH_AND_PAD.pack(BOOKEND_HASH)
    file_lookup_offset = cas_lookup_offset = len(body)
    for entry in sorted((_truncated(x.hash), i) for i, x in enumerate(xorbs)):
        body += CAS_LOOKUP.pack(*entry)
    chunk_lookup_offset = len(body)
    for entry in sorted(chunk_lookup):
        body += CHUNK_LOOKUP.pack(*entry)
    footer_offset = len(body)
    stored = sum(size for x in xorbs for _, size in x.chunks)
    body += FOOTER.pack(
        SHARD_FOOTER_VERSION, file_info_offset, cas_info_offset, file_lookup_offset, 0, cas_lookup_offset, len(xorbs),
        chunk_lookup_offset, len(chunk_lookup), hmac_key, now, expiry, sum(x.disk_bytes for x in xorbs), 0, stored,
        footer_offset,
    )
    return bytes(body)


SHARD_TAG = b"HFRepoMetaData\x00" + bytes([85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169])
