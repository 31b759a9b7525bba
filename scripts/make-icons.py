#!/usr/bin/env python3
"""Draws Latchkey's icon set (a keyhole in a rounded square) with the standard
library only, so icons can be regenerated on any machine without downloads.

Writes icons/*.png, icons/icon.ico (PNG-in-ICO) and icons/icon.icns (PNG-in-ICNS).
"""
import math, os, struct, zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "icons")
BG = (37, 99, 235)      # blue-600
FG = (255, 255, 255)


def png(width, height, pixels):
    raw = b"".join(b"\x00" + bytes(pixels[y * width * 4:(y + 1) * width * 4]) for y in range(height))
    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def coverage(size, fx, fy, inside):
    """4x4 supersampled coverage of pixel (fx, fy) for shape predicate inside(u, v) in [0,1]^2."""
    hits = 0
    for sy in range(4):
        for sx in range(4):
            if inside((fx + (sx + 0.5) / 4) / size, (fy + (sy + 0.5) / 4) / size):
                hits += 1
    return hits / 16


def rounded_square(u, v, r=0.22, m=0.04):
    if u < m or v < m or u > 1 - m or v > 1 - m:
        return False
    cx = min(max(u, m + r), 1 - m - r)
    cy = min(max(v, m + r), 1 - m - r)
    return (u - cx) ** 2 + (v - cy) ** 2 <= r * r


def keyhole(u, v):
    if (u - 0.5) ** 2 + (v - 0.40) ** 2 <= 0.14 ** 2:
        return True
    if 0.40 <= v <= 0.76:
        half = 0.06 + (v - 0.40) * 0.14
        return abs(u - 0.5) <= half
    return False


def draw(size, tray=False):
    px = []
    for y in range(size):
        for x in range(size):
            if tray:
                # Monochrome template-style tray icon: white keyhole on transparent.
                a = coverage(size, x, y, keyhole)
                px += [*FG, int(255 * a)]
            else:
                bg = coverage(size, x, y, rounded_square)
                fg = coverage(size, x, y, keyhole)
                r, g, b = (int(BG[i] * (1 - fg) + FG[i] * fg) for i in range(3))
                px += [r, g, b, int(255 * bg)]
    return png(size, size, px)


def main():
    os.makedirs(OUT, exist_ok=True)
    sizes = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}
    blobs = {}
    for name, s in sizes.items():
        blobs[s] = draw(s)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(blobs[s])
    with open(os.path.join(OUT, "tray.png"), "wb") as f:
        f.write(draw(32, tray=True))
    # ICO with embedded PNGs (Windows Vista+).
    entries = [(32, blobs[32]), (128, blobs[128]), (256, blobs[256])]
    header = struct.pack("<HHH", 0, 1, len(entries))
    offset = 6 + 16 * len(entries)
    dirs, data = b"", b""
    for s, blob in entries:
        dirs += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(blob), offset + len(data))
        data += blob
    with open(os.path.join(OUT, "icon.ico"), "wb") as f:
        f.write(header + dirs + data)
    # ICNS with PNG payloads: ic07 128, ic08 256, ic09 512.
    body = b""
    for tag, s in ((b"ic07", 128), (b"ic08", 256), (b"ic09", 512)):
        body += tag + struct.pack(">I", 8 + len(blobs[s])) + blobs[s]
    with open(os.path.join(OUT, "icon.icns"), "wb") as f:
        f.write(b"icns" + struct.pack(">I", 8 + len(body)) + body)


if __name__ == "__main__":
    main()
