"""The file formats hitrec knows by their first bytes: still and animated images the renderer's ffmpeg
decodes, and formats it refuses by name (with what to do instead).

``sniff_image(head)`` names an image format from a file's first 64 bytes; ``refused(head)`` names a format
hitrec does not take, with the advice for the one line ``hitrec add`` prints. docs/media.md lists both.
"""

from __future__ import annotations

from typing import NamedTuple


class ImageFormat(NamedTuple):
    name: str  # what messages call it: "HEIC", "JPEG XL", ...
    mime: str


_PNG = ImageFormat("PNG", "image/png")
_JPEG = ImageFormat("JPEG", "image/jpeg")
_GIF = ImageFormat("GIF", "image/gif")
_WEBP = ImageFormat("WebP", "image/webp")
_TIFF = ImageFormat("TIFF", "image/tiff")
_HEIC = ImageFormat("HEIC", "image/heic")
_HEIF = ImageFormat("HEIF", "image/heif")
_AVIF = ImageFormat("AVIF", "image/avif")
_JXL = ImageFormat("JPEG XL", "image/jxl")
_BMP = ImageFormat("BMP", "image/bmp")
_SGI = ImageFormat("SGI", "image/sgi")

# (offset, magic bytes, format). Checked in order; the first match wins.
_MAGIC: tuple[tuple[int, bytes, ImageFormat], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", _PNG),
    (0, b"\xff\xd8\xff", _JPEG),
    (0, b"GIF87a", _GIF), (0, b"GIF89a", _GIF),
    (0, b"II*\x00", _TIFF), (0, b"MM\x00*", _TIFF),
    (0, b"BM", _BMP),
    (0, b"8BPS", ImageFormat("PSD", "image/vnd.adobe.photoshop")),
    (0, b"qoif", ImageFormat("QOI", "image/qoi")),
    (0, b"\x01\xda", _SGI),
    (0, b"v/1\x01", ImageFormat("OpenEXR", "image/x-exr")),
    (0, b"#?RADIANCE", ImageFormat("Radiance HDR", "image/vnd.radiance")),
    (0, b"#?RGBE", ImageFormat("Radiance HDR", "image/vnd.radiance")),
    (0, b"/* XPM */", ImageFormat("XPM", "image/x-xpixmap")),
    (0, b"#define ", ImageFormat("XBM", "image/x-xbitmap")),
    (0, b"\xff\x0a", _JXL), (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", _JXL),
    (0, b"\x00\x00\x01\x00", ImageFormat("ICO", "image/vnd.microsoft.icon")),
    (0, b"DDS ", ImageFormat("DDS", "image/vnd-ms.dds")),
)
_PNM = {b"P1": "PBM", b"P2": "PGM", b"P3": "PPM", b"P4": "PBM", b"P5": "PGM", b"P6": "PPM", b"P7": "PAM",
        b"PF": "PFM", b"Pf": "PFM"}
_HEIF_BRANDS = {b"heic": _HEIC, b"heix": _HEIC, b"heim": _HEIC, b"heis": _HEIC, b"hevc": _HEIC,
                b"hevx": _HEIC, b"mif1": _HEIF, b"msf1": _HEIF, b"avif": _AVIF, b"avis": _AVIF}
_BY_SUFFIX = {
    ".pcx": ("PCX", "image/vnd.zbrush.pcx"), ".tga": ("TGA", "image/x-tga"),
    ".pbm": ("PBM", "image/x-portable-bitmap"), ".pgm": ("PGM", "image/x-portable-graymap"),
    ".ppm": ("PPM", "image/x-portable-pixmap"), ".pnm": ("PNM", "image/x-portable-anymap"),
    ".pam": ("PAM", "image/x-portable-arbitrarymap"), ".xbm": ("XBM", "image/x-xbitmap"),
    ".xpm": ("XPM", "image/x-xpixmap"), ".exr": ("OpenEXR", "image/x-exr"),
    ".hdr": ("Radiance HDR", "image/vnd.radiance"), ".qoi": ("QOI", "image/qoi"),
    ".psd": ("PSD", "image/vnd.adobe.photoshop"), ".ico": ("ICO", "image/vnd.microsoft.icon"),
}
# Image formats by suffix, for those with no magic worth the name (PCX, TGA) and files the magic missed.
SUFFIX_IMAGES: dict[str, ImageFormat] = {
    **{suffix: ImageFormat(*named) for suffix, named in _BY_SUFFIX.items()},
    ".sgi": _SGI, ".rgb": _SGI, ".bmp": _BMP, ".heic": _HEIC, ".heif": _HEIF, ".avif": _AVIF, ".jxl": _JXL,
    ".png": _PNG, ".apng": _PNG, ".jpg": _JPEG, ".jpeg": _JPEG, ".gif": _GIF, ".webp": _WEBP,
    ".tif": _TIFF, ".tiff": _TIFF,
}


def sniff_image(head: bytes) -> ImageFormat | None:
    """The image format ``head`` (a file's first bytes) announces, or None."""
    for offset, magic, fmt in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    if head[4:8] == b"ftyp":
        return _heif(head)
    pnm = _PNM.get(head[:2])
    if pnm and len(head) > 2 and head[2:3] in (b" ", b"\n", b"\r", b"\t"):
        kind = {"PBM": "bitmap", "PGM": "graymap", "PAM": "arbitrarymap"}.get(pnm, "pixmap")
        return ImageFormat(pnm, f"image/x-portable-{kind}")
    return None


def _heif(head: bytes) -> ImageFormat | None:
    """HEIF/HEIC/AVIF by the ftyp box's major and compatible brands (an MP4 or MOV is not an image)."""
    box = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i:i + 4] for i in range(16, min(box, len(head)) - 3, 4)]
    if brands[0] not in _HEIF_BRANDS:
        return None
    for brand in brands:
        if brand in (b"avif", b"avis"):
            return _AVIF
        if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"):
            return _HEIC
    return _HEIF


# Formats refused by name: (offset, magic, what it is, what to do).
_REFUSED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"FUJIFILMCCD-RAW", "a Fujifilm camera raw file (RAF): the renderer cannot develop camera raw; "
                            "export it as JPEG, PNG or TIFF and add that"),
    (4, b"ftypcrx ", "a Canon camera raw file (CR3): the renderer cannot develop camera raw; export it as "
                     "JPEG, PNG or TIFF and add that"),
    (0, b"%PDF", "a PDF document, not media: export its pages as PNG images and add those"),
)
_RAW_TIFF = {b"CR\x02\x00": "Canon CR2", b"IIRO": "Olympus ORF", b"IIU\x00": "Panasonic RW2"}


def refused(head: bytes, suffix: str) -> str | None:
    """Why hitrec refuses a file by its format (one line, saying what to do), or None."""
    for offset, magic, problem in _REFUSED:
        if head[offset:offset + len(magic)] == magic:
            return problem
    raw = _RAW_TIFF.get(head[8:12]) or _RAW_TIFF.get(head[:4])
    if raw or suffix in (".dng", ".nef", ".arw", ".cr2", ".orf", ".rw2", ".pef", ".srw", ".raf", ".cr3"):
        name = raw or suffix[1:].upper()
        return (f"a camera raw file ({name}): the renderer cannot develop camera raw; export it as JPEG, "
                "PNG or TIFF and add that")
    return None


# ffmpeg recognises these only by a file name's suffix, and the media store's names have none: the
# renderer (and the probe, to decode exactly as it will) names the demuxer and decoder.
_INPUT_OPTIONS = {"image/x-tga": ("-f", "image2", "-c:v", "targa"),
                  "image/x-portable-arbitrarymap": ("-f", "pam_pipe")}


def input_options(mime: str) -> list[str]:
    """ffmpeg input options a file of this MIME type needs to be read without its suffix."""
    return list(_INPUT_OPTIONS.get(mime, ()))
