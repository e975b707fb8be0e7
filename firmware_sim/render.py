"""What a simulated ESC/POS printer put on paper, and how to show it: text and PNG.

The interpreter (`firmware_sim.printer`) turns bytes into blocks (text lines, barcodes, QR
codes, raster images); this module draws them on a 512-dot-wide receipt (an 80 mm TM-T88V)
so a person can look at a label, and writes a plain-text version that tests can read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import qrcode  # type: ignore[import-untyped]
import qrcode.constants  # type: ignore[import-untyped]
from barcode import get_barcode_class  # type: ignore[import-untyped]
from barcode.errors import BarcodeError  # type: ignore[import-untyped]
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

Align = Literal["left", "center", "right"]

PAPER_DOTS = 512
TEXT_COLUMNS = 42
_LINE_DOTS = 24
_FONT_SIZE = 19
_MARGIN = 4

_QR_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}

# python-barcode names of the simple symbologies the printer can draw itself.
_PYBARCODE_NAMES = {
    "UPC-A": "upca",
    "EAN13": "ean13",
    "EAN8": "ean8",
    "CODE39": "code39",
    "ITF": "itf",
    "NW7": "codabar",
}


@dataclass(frozen=True)
class TextLine:
    """One printed line of text with the style it was printed in."""

    text: str
    align: Align = "left"
    bold: bool = False
    width: int = 1
    height: int = 1


@dataclass(frozen=True)
class PrintedBarcode:
    """A 1D barcode as the printer drew it.

    `data` is the encoded text, with FNC1 separators inside the data as GS (0x1d);
    `gs1` is True when the symbol starts with FNC1 (a GS1-128 symbol). `modules` is the
    bar pattern ("1" = bar, one character per module), None if the data could not be drawn.
    """

    symbology: str
    data: str
    gs1: bool
    modules: str | None
    hri_position: int = 0
    height: int = 162
    module_dots: int = 3
    align: Align = "left"

    @property
    def hri(self) -> str:
        """The human-readable text printed with the bars (control characters left out)."""
        return "".join(ch for ch in self.data if ch.isprintable())


@dataclass(frozen=True)
class PrintedQr:
    """A native QR code."""

    payload: str
    module_dots: int = 3
    ec: str = "L"
    align: Align = "left"


@dataclass(frozen=True)
class PrintedRaster:
    """A GS v 0 raster image: `width_bytes` * 8 dots wide, 1 bits are black, MSB first."""

    width_bytes: int
    height_dots: int
    data: bytes
    align: Align = "left"


Block = TextLine | PrintedBarcode | PrintedQr | PrintedRaster


def pybarcode_modules(symbology: str, data: str) -> str | None:
    """The bar pattern of a simple symbology (EAN, UPC, CODE39...), None if not drawable."""
    name = _PYBARCODE_NAMES.get(symbology)
    if name is None:
        return None
    try:
        pattern: str = get_barcode_class(name)(data).build()[0]
    except (BarcodeError, ValueError, IndexError) as err:
        logger.warning("cannot draw %s barcode %r: %s", symbology, data, err)
        return None
    return pattern


def _aligned(text: str, width: int, align: Align) -> str:
    pad = max(TEXT_COLUMNS - len(text) * width, 0)
    if align == "center":
        return " " * (pad // 2) + text
    if align == "right":
        return " " * pad + text
    return text


def render_text(blocks: list[Block]) -> str:
    """The job as plain text, one printed line per line; codes shown in brackets."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, TextLine):
            out.append(_aligned(block.text, block.width, block.align))
        elif isinstance(block, PrintedBarcode):
            kind = f"{block.symbology} GS1" if block.gs1 else block.symbology
            shown = block.data.replace("\x1d", "<GS>")
            out.append(_aligned(f"[BARCODE {kind} {shown}]", 1, block.align))
            if block.hri_position in (1, 2, 3):
                out.append(_aligned(block.hri, 1, block.align))
        elif isinstance(block, PrintedQr):
            out.append(_aligned(f"[QR {block.payload}]", 1, block.align))
        else:
            out.append(
                _aligned(f"[IMAGE {block.width_bytes * 8}x{block.height_dots}]", 1, block.align)
            )
    return "\n".join(line.rstrip() for line in out) + "\n"


def _font(bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    try:
        return ImageFont.truetype(name, _FONT_SIZE)
    except OSError:
        return ImageFont.load_default(size=_FONT_SIZE)


def _text_image(text: str, *, bold: bool) -> Image.Image:
    font = _font(bold)
    right = int(font.getbbox(text)[2]) if text else 0
    image = Image.new("L", (max(right, 1), _LINE_DOTS), 255)
    ImageDraw.Draw(image).text((0, 0), text, font=font, fill=0)
    return image


def _barcode_image(block: PrintedBarcode) -> Image.Image:
    if block.modules is None:
        image = Image.new("L", (PAPER_DOTS - 2 * _MARGIN, block.height), 255)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=0)
        draw.text((4, 4), f"unprintable {block.symbology}", font=_font(False), fill=0)
        bars = image
    else:
        bars = Image.new("L", (len(block.modules) * block.module_dots, block.height), 255)
        draw = ImageDraw.Draw(bars)
        for i, module in enumerate(block.modules):
            if module == "1":
                x = i * block.module_dots
                draw.rectangle((x, 0, x + block.module_dots - 1, block.height - 1), fill=0)
    parts = [bars]
    hri = _text_image(block.hri, bold=False)
    if block.hri_position in (1, 3):
        parts.insert(0, hri)
    if block.hri_position in (2, 3):
        parts.append(hri)
    return _stack(parts, align="center")


def _qr_image(block: PrintedQr) -> Image.Image:
    code = qrcode.QRCode(border=2, error_correction=_QR_EC.get(block.ec, _QR_EC["L"]))
    code.add_data(block.payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix) * block.module_dots
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                x0, y0 = x * block.module_dots, y * block.module_dots
                draw.rectangle(
                    (x0, y0, x0 + block.module_dots - 1, y0 + block.module_dots - 1), fill=0
                )
    return image


def _raster_image(block: PrintedRaster) -> Image.Image:
    bitmap = Image.frombytes("1", (block.width_bytes * 8, block.height_dots), block.data)
    # In PIL mode "1" a set bit is white; on thermal paper it is a burnt (black) dot.
    return bitmap.convert("L").point(lambda v: 255 - v)


def _block_image(block: Block) -> tuple[Image.Image, Align]:
    if isinstance(block, TextLine):
        image = _text_image(block.text, bold=block.bold)
        if block.width > 1 or block.height > 1:
            image = image.resize(
                (image.width * block.width, image.height * block.height), Image.Resampling.NEAREST
            )
        return image, block.align
    if isinstance(block, PrintedBarcode):
        return _barcode_image(block), block.align
    if isinstance(block, PrintedQr):
        return _qr_image(block), block.align
    return _raster_image(block), block.align


def _stack(parts: list[Image.Image], *, align: Align) -> Image.Image:
    width = max(p.width for p in parts)
    image = Image.new("L", (width, sum(p.height for p in parts)), 255)
    y = 0
    for part in parts:
        x = {"left": 0, "center": (width - part.width) // 2, "right": width - part.width}[align]
        image.paste(part, (x, y))
        y += part.height
    return image


def render_png(blocks: list[Block], path: Path) -> None:
    """Draw the job on a 512-dot receipt and save it as a PNG at `path`."""
    placed = [_block_image(block) for block in blocks]
    height = sum(image.height for image, _ in placed) + 2 * _MARGIN
    paper = Image.new("L", (PAPER_DOTS, max(height, _LINE_DOTS)), 255)
    usable = PAPER_DOTS - 2 * _MARGIN
    y = _MARGIN
    for image, align in placed:
        if image.width > usable:
            # A real printer does not print what overflows the paper; show the overflow cut off.
            logger.warning("printed element %d dots wide overflows the paper", image.width)
            image = image.crop((0, 0, usable, image.height))
        offset = {"left": 0, "center": (usable - image.width) // 2, "right": usable - image.width}
        paper.paste(image, (_MARGIN + offset[align], y))
        y += image.height
    paper.save(path, format="PNG")
