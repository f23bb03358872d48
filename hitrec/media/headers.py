"""Audio headers parsed by hand (WAV/RF64, AIFF/AIFC, FLAC): stdlib only, a few reads per file.

Each reader takes an open binary file positioned anywhere, the file's size and its path (for errors), and
returns an :class:`AudioHeader`, or ``None`` when the file uses an encoding these readers do not cover
(ADPCM in a WAV, a compressed AIFC, a FLAC without a sample count): the caller then asks PyAV.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from hitrec.errors import MediaError

if TYPE_CHECKING:
    from pathlib import Path

_UNKNOWN_SIZE = 0xFFFFFFFF  # what streaming writers (ffmpeg to a pipe) leave in a RIFF size field


class AudioHeader(NamedTuple):
    container: str  # wav | aiff | flac
    codec: str  # ffmpeg's codec name: pcm_s16le, pcm_f32be, flac, ...
    sample_rate: int
    channels: int
    frames: int  # samples per channel

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


# WAVE format tags hitrec reads itself; anything else (ADPCM, GSM, MP3-in-WAV) goes to PyAV.
_PCM, _FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def _read_exact(f: BinaryIO, n: int, path: Path | str, what: str) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise MediaError(path, f"truncated: the file ends inside the {what} ({n - len(data)} bytes missing)")
    return data


def _missing(path: Path | str, fmt: str, promised: int, present: int) -> MediaError:
    return MediaError(
        path,
        f"truncated {fmt}: the header promises {promised} bytes of audio but only {present} are there "
        f"({promised - present} bytes missing). Export or copy the file again.",
    )


def _no_samples(path: Path | str, fmt: str) -> MediaError:
    return MediaError(path, f"zero-length {fmt}: it holds no audio samples. Export or record it again.")


MAX_RATE = 10_000_000  # Hz: anything above is a broken header, not audio


def _wav_codec(path: Path | str, tag: int, bits: int) -> str | None:
    if tag == _PCM:
        if bits == 8:
            return "pcm_u8"
        if 8 < bits <= 32:  # 12 and 20 bits sit in 16/24-bit containers
            return f"pcm_s{(bits + 7) // 8 * 8}le"
        raise MediaError(path, f"unsupported PCM sample size: {bits} bits")
    if tag == _FLOAT:
        if bits in (32, 64):
            return f"pcm_f{bits}le"
        raise MediaError(path, f"unsupported float sample size: {bits} bits")
    if tag == _ALAW:
        return "pcm_alaw"
    if tag == _MULAW:
        return "pcm_mulaw"
    return None


def read_wav(f: BinaryIO, size: int, path: Path | str) -> AudioHeader | None:
    """RIFF/RF64 WAVE: walk the chunks up to ``data``; never reads the samples."""
    f.seek(0)
    riff, _, wave_id = struct.unpack("<4sI4s", _read_exact(f, 12, path, "RIFF header"))
    if riff not in (b"RIFF", b"RF64") or wave_id != b"WAVE":
        raise MediaError(path, "not a WAV file: no RIFF/WAVE header")
    ds64_data: int | None = None
    fmt: tuple[int, int, int, int, int] | None = None
    pos = 12
    while True:
        head = f.read(8)
        if len(head) < 8:
            if fmt is None:
                raise MediaError(path, "not a playable WAV: it has no 'fmt ' chunk")
            raise MediaError(path, "not a playable WAV: it has no 'data' chunk (no audio)")
        chunk_id, chunk_size = struct.unpack("<4sI", head)
        body = pos + 8
        if chunk_id == b"ds64":
            ds64_data = struct.unpack("<QQ", _read_exact(f, 16, path, "ds64 chunk"))[1]
        elif chunk_id == b"fmt ":
            if chunk_size < 16:
                raise MediaError(path, f"broken WAV header: 'fmt ' chunk is {chunk_size} bytes, need 16")
            raw = _read_exact(f, min(chunk_size, 40), path, "'fmt ' chunk")
            tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", raw)
            if tag == _EXTENSIBLE and len(raw) >= 26:
                tag = struct.unpack_from("<H", raw, 24)[0]  # first two bytes of the SubFormat GUID
            fmt = (tag, channels, rate, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise MediaError(path, "broken WAV header: 'data' comes before 'fmt '")
            tag, channels, rate, block_align, bits = fmt
            if channels == 0 or rate == 0 or block_align == 0:
                raise MediaError(path, f"broken WAV header: {channels} channels, {rate} Hz, "
                                       f"block size {block_align}")
            codec = _wav_codec(path, tag, bits)
            if codec is None:
                return None
            present = size - body
            if chunk_size == _UNKNOWN_SIZE:
                chunk_size = ds64_data if riff == b"RF64" and ds64_data is not None else present
            if chunk_size > present:
                raise _missing(path, "WAV", chunk_size, present)
            if chunk_size // block_align == 0:
                raise _no_samples(path, "WAV")
            return AudioHeader("wav", codec, rate, channels, chunk_size // block_align)
        pos = body + chunk_size + (chunk_size & 1)
        f.seek(pos)


def _extended(raw: bytes) -> float:
    """An IEEE 754 80-bit extended float (AIFF's sample rate)."""
    exponent, mantissa = struct.unpack(">HQ", raw)
    sign = -1 if exponent & 0x8000 else 1
    exponent &= 0x7FFF
    if exponent == 0 and mantissa == 0:
        return 0.0
    if exponent - 16383 > 64:  # far beyond any sample rate (and beyond a float): say so, not OverflowError
        return float("inf")
    return sign * mantissa * 2.0 ** (exponent - 16383 - 63)


_AIFC_CODECS = {b"NONE": None, b"twos": None, b"sowt": "le", b"fl32": "pcm_f32be", b"FL32": "pcm_f32be",
                b"fl64": "pcm_f64be", b"FL64": "pcm_f64be", b"alaw": "pcm_alaw", b"ALAW": "pcm_alaw",
                b"ulaw": "pcm_mulaw", b"ULAW": "pcm_mulaw", b"raw ": "pcm_u8"}


def read_aiff(f: BinaryIO, size: int, path: Path | str) -> AudioHeader | None:
    """AIFF/AIFC: COMM gives channels, frames, sample size and rate; SSND must hold them all."""
    f.seek(0)
    form, _, kind = struct.unpack(">4sI4s", _read_exact(f, 12, path, "FORM header"))
    if form != b"FORM" or kind not in (b"AIFF", b"AIFC"):
        raise MediaError(path, "not an AIFF file: no FORM/AIFF header")
    comm: tuple[int, int, int, float, str] | None = None
    ssnd: tuple[int, int] | None = None  # (where the samples start, bytes present)
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack(">4sI", _read_exact(f, 8, path, "chunk header"))
        if chunk_id == b"COMM":
            raw = _read_exact(f, min(chunk_size, 22), path, "COMM chunk")
            if len(raw) < 18:
                raise MediaError(path, f"broken AIFF header: COMM chunk is {chunk_size} bytes, need 18")
            channels, frames, bits = struct.unpack_from(">HIH", raw)
            codec: str = f"pcm_s{(bits + 7) // 8 * 8}be" if bits > 8 else "pcm_s8"
            if kind == b"AIFC" and len(raw) >= 22:
                compression = raw[18:22]
                if compression not in _AIFC_CODECS:
                    return None  # ima4, MAC3, QDM2...: PyAV decodes those
                mapped = _AIFC_CODECS[compression]
                if mapped == "le":
                    codec = codec.replace("be", "le") if bits > 8 else codec
                elif mapped is not None:
                    codec = mapped
            comm = (channels, frames, bits, _extended(raw[8:18]), codec)
        elif chunk_id == b"SSND":
            offset = struct.unpack(">I", _read_exact(f, 4, path, "SSND chunk"))[0]
            start = pos + 16 + offset
            ssnd = (start, max(0, size - start))
        pos += 8 + chunk_size + (chunk_size & 1)
    if comm is None:
        raise MediaError(path, "not a playable AIFF: it has no COMM chunk")
    channels, frames, bits, rate, codec = comm
    if channels == 0 or not 0 < rate <= MAX_RATE:
        raise MediaError(path, f"broken AIFF header: {channels} channels at an impossible sample rate "
                               f"({rate:.6g} Hz). Export the file again.")
    if frames == 0:
        raise _no_samples(path, "AIFF")
    if frames and ssnd is None:
        raise MediaError(path, "not a playable AIFF: it has no SSND chunk (no audio)")
    width = {"pcm_f32be": 4, "pcm_f64be": 8, "pcm_alaw": 1, "pcm_mulaw": 1}.get(codec, (bits + 7) // 8)
    promised = frames * channels * width
    if ssnd is not None and promised > ssnd[1]:
        raise _missing(path, "AIFF", promised, ssnd[1])
    return AudioHeader("aiff", codec, round(rate), channels, frames)


def skip_id3(f: BinaryIO) -> int:
    """Offset just past an ID3v2 tag at the start of the file (0 if there is none)."""
    f.seek(0)
    head = f.read(10)
    if len(head) == 10 and head[:3] == b"ID3":
        b = head[6:10]
        footer = 10 if head[5] & 0x10 else 0
        return 10 + footer + (b[0] << 21 | b[1] << 14 | b[2] << 7 | b[3])
    return 0


def read_flac(f: BinaryIO, size: int, path: Path | str) -> AudioHeader | None:
    """FLAC: STREAMINFO gives rate, channels, bits and the sample count; then check the first frame."""
    start = skip_id3(f)
    f.seek(start)
    if _read_exact(f, 4, path, "FLAC header") != b"fLaC":
        raise MediaError(path, "not a FLAC file: no fLaC marker")
    pos, info = start + 4, None
    while True:
        block_head = _read_exact(f, 4, path, "FLAC metadata")
        last, block_type = block_head[0] & 0x80, block_head[0] & 0x7F
        length = int.from_bytes(block_head[1:4], "big")
        if block_type == 0:
            info = _read_exact(f, 34, path, "FLAC STREAMINFO")
        pos += 4 + length
        if pos > size:
            raise MediaError(path, f"truncated FLAC: the metadata ends {pos - size} bytes past the end "
                                   "of the file. Export or copy the file again.")
        f.seek(pos)
        if last:
            break
        if block_type == 127:
            raise MediaError(path, "broken FLAC header: invalid metadata block type 127")
    if info is None:
        raise MediaError(path, "broken FLAC header: no STREAMINFO block")
    packed = int.from_bytes(info[10:18], "big")
    rate, channels, total = packed >> 44, ((packed >> 41) & 0x7) + 1, packed & 0xFFFFFFFFF
    if rate == 0:
        raise MediaError(path, "broken FLAC header: sample rate 0")
    sync = f.read(2)
    if total and (len(sync) < 2 or sync[0] != 0xFF or sync[1] & 0xFE != 0xF8):
        raise MediaError(path, "truncated or corrupt FLAC: no audio frame follows the header")
    if total == 0:
        return None  # sample count unknown (a stream): let PyAV estimate
    ends = _last_flac_frame_end(f, size, pos, info, sync)
    if ends is None:
        raise MediaError(path, "corrupt FLAC: no intact audio frame near the end of the file")
    if ends < total:
        raise MediaError(path, f"truncated or corrupt FLAC: the header promises {total / rate:.2f} s of audio "
                               f"but the intact frames end at {ends / rate:.2f} s. Export or copy the file again.")
    return AudioHeader("flac", "flac", rate, channels, total)


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8 = _crc8_table()
_FLAC_TAIL = (4 << 10, 64 << 10, 1 << 20)  # bytes read from the end to find the last frame: then more


_BLOCK_SIZES = (0, 192, 576, 1152, 2304, 4608, -1, -2, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
_RATE_BYTES = (0,) * 12 + (1, 2, 2, 0)


def _flac_frame(data: bytes, at: int) -> tuple[bool, int, int] | None:
    """A FLAC frame header at ``data[at:]``: (variable blocking, frame or sample number, block size),
    or None unless its fields are valid and its CRC-8 matches."""
    if len(data) < at + 6 or data[at] != 0xFF or data[at + 1] & 0xFE != 0xF8:
        return None
    codes, layout = data[at + 2], data[at + 3]
    size_code, rate_code = codes >> 4, codes & 0xF
    if size_code == 0 or rate_code == 15 or layout >> 4 > 10 or layout & 1 or layout & 0xE == 6:
        return None
    lead, i = data[at + 4], at + 5
    ones = 8 - (~lead & 0xFF).bit_length()  # leading 1 bits: the UTF-8-style length of the number
    if ones == 1 or ones == 8:
        return None
    number = lead & (0x7F >> ones)
    end = at + 4 + max(1, ones)
    for byte in data[i:end]:
        if byte & 0xC0 != 0x80:
            return None
        number = number << 6 | byte & 0x3F
    i = end
    block = _BLOCK_SIZES[size_code]
    if block == -1:
        block, i = (data[i] + 1 if i < len(data) else 0), i + 1
    elif block == -2:
        block, i = int.from_bytes(data[i:i + 2], "big") + 1, i + 2
    i += _RATE_BYTES[rate_code]
    if i >= len(data):
        return None
    crc = 0
    for byte in data[at:i]:
        crc = _CRC8[crc ^ byte]
    return (bool(data[at + 1] & 1), number, block) if crc == data[i] else None


def _last_flac_frame_end(f: BinaryIO, size: int, audio_start: int, info: bytes, sync: bytes) -> int | None:
    """The sample number where the last intact-looking frame near the end of the file stops; ``sync`` is
    the first frame's two sync bytes (the blocking strategy is the stream's, the same in every frame)."""
    fixed_block = int.from_bytes(info[2:4], "big")  # STREAMINFO's maximum block size
    for want in _FLAC_TAIL:
        start = max(audio_start, size - want)
        data = os.pread(f.fileno(), size - start, start)
        at = len(data)
        while (at := data.rfind(sync, 0, at)) >= 0:
            frame = _flac_frame(data, at)
            if frame is not None:
                variable, number, block = frame
                return (number if variable else number * fixed_block) + block
        if start == audio_start:
            return None
    return None
