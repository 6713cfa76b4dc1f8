"""A simulated camera's picture: colour bars, a moving square, the call sign, the device and the clock.

Drawn straight into the planes of a YUV 4:2:0 frame with byte-string slices
and a 5x7 bitmap font, so it needs neither numpy nor Pillow and costs little
per frame; the relay forwards the encoded frames without decoding them.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable
from datetime import datetime

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)

# 5x7 glyphs, one 5-bit row per entry, top to bottom (the HD44780's character shapes).
FONT: dict[str, tuple[int, ...]] = {
    "0": (0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E),
    "1": (0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "2": (0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F),
    "3": (0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E),
    "4": (0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02),
    "5": (0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E),
    "6": (0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E),
    "7": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08),
    "8": (0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E),
    "9": (0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C),
    "A": (0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11),
    "B": (0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E),
    "C": (0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E),
    "D": (0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C),
    "E": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F),
    "F": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10),
    "G": (0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F),
    "H": (0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11),
    "I": (0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "J": (0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C),
    "K": (0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11),
    "L": (0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F),
    "M": (0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11),
    "N": (0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11),
    "O": (0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "P": (0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10),
    "Q": (0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D),
    "R": (0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11),
    "S": (0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E),
    "T": (0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04),
    "U": (0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "V": (0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04),
    "W": (0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A),
    "X": (0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11),
    "Y": (0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04),
    "Z": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F),
    " ": (0, 0, 0, 0, 0, 0, 0),
    ":": (0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00),
    "-": (0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00),
    ".": (0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C),
    "/": (0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00),
    "#": (0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A),
}
UNKNOWN_GLYPH = (0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F)

# Seventy-five per cent colour bars (white, yellow, cyan, green, magenta, red, blue, black) in BT.601 YUV.
BARS = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
    (16, 128, 128),
]
WHITE, BLACK = 235, 16


class CameraPicture:
    """Renders the picture at a moment: `frame(now)` gives an av.VideoFrame (yuv420p)."""

    def __init__(self, call_sign: str, device: str, width: int = 480, height: int = 270):
        self.call_sign = call_sign.upper()
        self.device = device.upper()
        self.width = width - width % 2
        self.height = height - height % 2
        self.bars_height = (self.height * 3 // 5) // 2 * 2
        self._background = self._draw_background()

    def _draw_background(self) -> tuple[bytes, bytes, bytes]:
        w, h, bars_h = self.width, self.height, self.bars_height
        cw = w // 2
        row_y = bytearray(w)
        row_u, row_v = bytearray(cw), bytearray(cw)
        for x in range(w):
            y, u, v = BARS[x * len(BARS) // w]
            row_y[x] = y
            if x % 2 == 0:
                row_u[x // 2], row_v[x // 2] = u, v
        plane_y = bytes(row_y) * bars_h + bytes([BLACK]) * (w * (h - bars_h))
        plane_u = bytes(row_u) * (bars_h // 2) + bytes([128]) * (cw * (h - bars_h) // 2)
        plane_v = bytes(row_v) * (bars_h // 2) + bytes([128]) * (cw * (h - bars_h) // 2)
        return plane_y, plane_u, plane_v

    def text_lines(self, now: datetime) -> list[tuple[str, int]]:
        """What is written under the bars, with each line's scale."""
        clock = now.strftime("%H:%M:%S.") + str(now.microsecond // 100_000)
        return [(self.call_sign, 3), (clock, 3), (f"{self.device} {now:%Y-%m-%d}", 2)]

    def planes(self, now: datetime) -> tuple[bytearray, bytearray, bytearray]:
        """The three planes (Y, U, V), tightly packed."""
        w, h = self.width, self.height
        plane_y, plane_u, plane_v = (bytearray(p) for p in self._background)
        # A square crossing the bars and back every four seconds: motion a viewer sees at once.
        side = max(8, self.bars_height // 4) // 2 * 2
        span = w - side
        phase = (now.timestamp() % 4.0) / 4.0
        x0 = int(span * (2 * phase if phase < 0.5 else 2 - 2 * phase)) // 2 * 2
        y0 = (self.bars_height - side) // 2 // 2 * 2
        square = bytes([WHITE]) * side
        for row in range(y0, y0 + side):
            plane_y[row * w + x0 : row * w + x0 + side] = square
        neutral = bytes([128]) * (side // 2)
        for row in range(y0 // 2, (y0 + side) // 2):
            start = row * (w // 2) + x0 // 2
            plane_u[start : start + side // 2] = neutral
            plane_v[start : start + side // 2] = neutral
        y = self.bars_height + 6
        for text, scale in self.text_lines(now):
            self._write(plane_y, text, 8, y, scale)
            y += 8 * scale + 4
            if y >= h:
                break
        return plane_y, plane_u, plane_v

    def _write(self, plane: bytearray, text: str, x: int, y: int, scale: int) -> None:
        w, h = self.width, self.height
        ink = bytes([WHITE]) * scale
        for char in text:
            if x + 5 * scale > w:
                return
            for row, bits in enumerate(FONT.get(char, UNKNOWN_GLYPH)):
                for col in range(5):
                    if bits & (0x10 >> col):
                        px = x + col * scale
                        for dy in range(scale):
                            py = y + row * scale + dy
                            if py < h:
                                plane[py * w + px : py * w + px + scale] = ink
            x += 6 * scale

    def frame(self, now: datetime) -> av.VideoFrame:
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        widths = (self.width, self.width // 2, self.width // 2)
        for plane, packed, width in zip(frame.planes, self.planes(now), widths, strict=True):
            data = bytes(packed)
            if plane.line_size != width:  # rows padded for alignment
                pad = bytes(plane.line_size - width)
                data = b"".join(data[r * width : (r + 1) * width] + pad for r in range(len(data) // width))
            plane.update(data)
        return frame


class SyntheticVideoTrack(MediaStreamTrack):
    """A live video track of a CameraPicture at `fps`, stamped on a 90 kHz clock like a camera's."""

    kind = "video"

    def __init__(self, picture: CameraPicture, fps: float = 15.0, clock: Callable[[], datetime] | None = None):
        super().__init__()
        self.picture = picture
        self.fps = fps
        self.clock = clock or (lambda: datetime.now().astimezone())
        self._start: float | None = None
        self._timestamp = 0
        self.frames_sent = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += int(VIDEO_CLOCK_RATE / self.fps)
            await asyncio.sleep(max(0.0, self._start + self._timestamp / VIDEO_CLOCK_RATE - time.time()))
        frame = self.picture.frame(self.clock())
        frame.pts = self._timestamp
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame
