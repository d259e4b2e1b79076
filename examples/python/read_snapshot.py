#!/usr/bin/env python3
"""Reads a salescycle pipeline snapshot without the library, and prints the
deals in each stage.

    read_snapshot.py SNAPSHOT

It needs only the protobuf runtime (Debian's python3-protobuf; where
`python3` is a pyenv build that does not see Debian's packages, run it with
/usr/bin/python3) and the modules protoc generates from proto/salescycle/v1:

    protoc --python_out=OUT -I proto proto/salescycle/v1/*.proto
    PYTHONPATH=OUT read_snapshot.py pipeline.scp

(the build does this into build/examples/python_pb). The format is the one
proto/salescycle/v1/snapshot.proto describes: 8 bytes of magic, then frames
of a little-endian u32 length, a u32 CRC-32 of the payload, and a serialized
PipelineFrame: a header, chunks of deals in columns, a trailer with totals.
"""
import struct
import sys
import zlib

from salescycle.v1 import snapshot_pb2

MAGIC = b"SCPIPE\r\n"


class SnapshotError(Exception):
    pass


def frames(data):
    """Yields (offset, PipelineFrame) for every frame, checking each CRC."""
    if data[:8] != MAGIC:
        raise SnapshotError("not a salescycle pipeline snapshot (bad magic)")
    offset = 8
    while offset < len(data):
        if offset + 8 > len(data):
            raise SnapshotError(f"truncated frame header at offset {offset}")
        length, crc = struct.unpack_from("<II", data, offset)
        payload = data[offset + 8:offset + 8 + length]
        if len(payload) != length:
            raise SnapshotError(f"truncated frame at offset {offset}")
        if zlib.crc32(payload) != crc:
            raise SnapshotError(f"checksum mismatch in the frame at offset {offset}")
        frame = snapshot_pb2.PipelineFrame()
        frame.ParseFromString(payload)
        yield offset, frame
        offset += 8 + length


def stage_counts(data):
    """Returns (header, {stage name: live deals}), counted from the chunks'
    stage columns and checked against the trailer."""
    header, trailer = None, None
    counts = None
    for offset, frame in frames(data):
        kind = frame.WhichOneof("kind")
        if kind == "header":
            header = frame.header
            counts = [0] * len(header.stages)
        elif kind == "chunk":
            if header is None:
                raise SnapshotError(f"a chunk before the header at offset {offset}")
            for stage in frame.chunk.stages:
                if stage < len(counts):  # len(stages) marks an empty slot
                    counts[stage] += 1
        elif kind == "trailer":
            trailer = frame.trailer
    if header is None or trailer is None:
        raise SnapshotError("the snapshot has no header or no trailer")
    if list(trailer.stage_counts) != counts:
        raise SnapshotError(
            f"the chunks hold {counts} deals per stage, the trailer says "
            f"{list(trailer.stage_counts)}")
    return header, dict(zip(header.stages, counts))


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        data = f.read()
    try:
        header, counts = stage_counts(data)
    except SnapshotError as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    m = header.machine
    print(f"{m.name} v{m.version} (fingerprint {m.fingerprint:016x}): "
          f"{header.deal_count} deals in {header.slot_count} slots")
    for name, n in counts.items():
        print(f"{name:<24} {n:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
