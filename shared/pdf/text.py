"""Text on reportlab's canvas, for every PDF the project makes (the invoice,
`shared.pdf.invoice`; the report export, `shared.exports.writers`): the bundled fonts,
the faces a document's texts need, and lines shaped for drawing.

``Fonts.of(texts)`` picks the faces, ``Fonts.line(text)`` shapes one line (Arabic joined,
right-to-left in display order), ``Fonts.runs(line, bold)`` splits it by the font that
has each character, ``Fonts.width`` measures it (mm); ``PT`` is points per millimetre.

Fonts are bundled (fonts/README.md) and registered once per process as
reportlab `TTFont`s (reportlab subsets them itself when it writes a PDF): DejaVu
Sans subsets (the 30 KB Latin core pair for most documents, the 210 KB pair for
Greek, Cyrillic, Hebrew and Arabic), a Droid Sans Fallback subset for Chinese and
Japanese and a Nanum Gothic subset for Korean, the last two loaded only for
documents with such characters (the CJK font costs about 100 ms to load). A
text is split into runs by which font covers each character (main font first,
then Korean, then CJK) and each run is drawn in its font.

Right-to-left: Arabic is reshaped to its joining forms (arabic_reshaper, with
only the ligatures the font has), then Arabic and Hebrew are put in display
order (python-bidi's `get_display`), line by line after wrapping. The fonts'
ToUnicode maps turn the presentation forms back into letters, so the text
copied or extracted from the PDF is the name as typed. Both packages are
imported only for documents with such text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportlab import rl_config  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont  # type: ignore[import-untyped]

FONTS = Path(__file__).parent / "fonts"
# Binary (deflated) streams rather than reportlab's default ASCII85 on top: a tenth
# less time a page (bench/RESULTS.md), and every PDF reader reads them.
rl_config.useA85 = 0
PT = 72 / 25.4  # points per millimetre

_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_ARABIC = re.compile("[\u0600-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# What InvoiceSansCore covers (fonts/README.md); a document with any other
# character but CJK and Hangul (their own fonts) is set in the larger InvoiceSans.
_BEYOND_CORE = re.compile(
    "[^\n\u0020-\u007e\u00a0-\u017f\u0192\u0218-\u021b\u02c6-\u02dd"
    "\u2000-\u206f\u20a0-\u20c0\u2116\u2122\u2190-\u2193\u2212"
    "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"
)
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


def _unicode_of(code: int) -> str:
    """The text a glyph stands for: Arabic presentation forms (what the reshaper
    draws) as their letters, a lam-alef ligature as lam then alef."""
    if 0xFB1D <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF:
        return unicodedata.normalize("NFKC", chr(code)) or chr(code)
    return chr(code)


def _to_unicode_cmap(name: str, subset: list[int]) -> str:
    """reportlab's ToUnicode CMap of a font subset, with `_unicode_of`'s targets."""
    pairs = [
        f"<{code:02X}> <{_unicode_of(u).encode('utf-16-be').hex().upper()}>"
        for code, u in enumerate(subset)
    ]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({name})",
            f"/Ordering ({name})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{name} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(pairs)} beginbfchar",
            *pairs,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


class _Font(TTFont):  # type: ignore[misc]
    """A bundled TrueType font. reportlab maps each glyph of a subset to the one
    character it was drawn for; for Arabic presentation forms that is not the
    letter a reader copies, so those subsets get `_to_unicode_cmap`."""

    def addObjects(self, doc: Any) -> None:
        state = self.state.get(doc)
        subsets = [list(s) for s in state.subsets] if state is not None else []
        super().addObjects(doc)
        for n, subset in enumerate(subsets):
            if not any(0xFB1D <= u <= 0xFDFF or 0xFE70 <= u <= 0xFEFF for u in subset):
                continue
            face = self.face
            name = b"".join((SUBSETN(n), b"+", face.name, face.subfontNameX)).decode("pdfdoc")
            stream = doc.idToObject.get("toUnicodeCMap:" + name)
            if stream is not None:
                stream.content = _to_unicode_cmap(name, subset)


@dataclass(frozen=True)
class Face:
    """A registered font: its reportlab name and the characters it has glyphs for."""

    name: str
    glyphs: dict[int, int] = field(repr=False)
    width: Callable[[str, float], float] = field(repr=False)  # (text, pt) -> pt


# reportlab registers one font per face (PostScript) name: a second font of the
# same name would be drawn with the first one's glyphs. The two DejaVu subsets get
# names of their own (fixed, so the bytes never depend on which loaded first).
_FACE_NAMES = {
    "InvoiceSansCore.ttf": b"DejaVuSansCore",
    "InvoiceSansCore-Bold.ttf": b"DejaVuSansCore-Bold",
}


@functools.cache
def _face(file: str) -> Face:
    """Register a bundled font with reportlab, once per process."""
    name = file.removesuffix(".ttf")
    font = _Font(name, str(FONTS / file))
    font.face.name = _FACE_NAMES.get(file, font.face.name)
    pdfmetrics.registerFont(font)
    return Face(name, font.face.charToGlyph, font.stringWidth)


@functools.cache
def _reshaper(file: str) -> Any:
    """An Arabic reshaper using only the ligatures ``file`` has glyphs for."""
    from arabic_reshaper import ArabicReshaper  # type: ignore[import-untyped]  # noqa: PLC0415
    from arabic_reshaper.ligatures import LIGATURES  # type: ignore[import-untyped]  # noqa: PLC0415

    glyphs = _face(file).glyphs
    config: dict[str, Any] = {"delete_harakat": True, "support_ligatures": True}
    for name, (_, forms) in LIGATURES:
        config[name] = all(ord(form) in glyphs for form in forms if len(form) == 1)
    return ArabicReshaper(configuration=config)


@dataclass
class Fonts:
    """The fonts of one document: the main pair and the fallbacks its text needs."""

    regular: Face
    bold: Face
    fallbacks: tuple[Face, ...]
    rtl: bool
    file: str

    @classmethod
    def of(cls, texts: list[str]) -> Fonts:
        world = any(_BEYOND_CORE.search(t) for t in texts)
        family = "InvoiceSans" if world else "InvoiceSansCore"
        fallbacks = []
        if any(_HANGUL.search(t) for t in texts):
            fallbacks.append(_face("InvoiceHangul.ttf"))
        if any(_CJK.search(t) for t in texts):
            fallbacks.append(_face("InvoiceCJK.ttf"))
        return cls(
            regular=_face(f"{family}.ttf"),
            bold=_face(f"{family}-Bold.ttf"),
            fallbacks=tuple(fallbacks),
            rtl=any(_RTL.search(t) for t in texts),
            file=f"{family}.ttf",
        )

    def logical(self, text: str) -> str:
        """Arabic in its joining forms (still in reading order)."""
        if self.rtl and _ARABIC.search(text):
            return str(_reshaper(self.file).reshape(text))
        return text

    def line(self, text: str) -> str:
        """One line of ``text`` ready to draw: reshaped, then in display order."""
        return self.visual(self.logical(text))

    def visual(self, line: str) -> str:
        """One line in display order (right-to-left runs reversed)."""
        if self.rtl and _RTL.search(line):
            from bidi import get_display  # type: ignore[import-untyped]  # noqa: PLC0415

            return str(get_display(line))
        return line

    def runs(self, text: str, bold: bool) -> list[tuple[Face, str]]:
        """``text`` split by the font that has each character: the main font first,
        then the fallbacks; a space stays in the run it is in when that font has one."""
        main = self.bold if bold else self.regular
        if not self.fallbacks:
            return [(main, text)]
        runs: list[tuple[Face, str]] = []
        current, start = main, 0
        for index, char in enumerate(text):
            code = ord(char)
            if code in main.glyphs and (current is main or code != 0x20):
                face = main
            elif code == 0x20 and code in current.glyphs:
                face = current
            else:
                face = next((f for f in self.fallbacks if code in f.glyphs), main)
            if face is not current:
                if index > start:
                    runs.append((current, text[start:index]))
                current, start = face, index
        runs.append((current, text[start:]))
        return runs

    def width(self, text: str, size: float, bold: bool) -> float:
        """The width of ``text`` (already shaped) in mm."""
        return sum(face.width(part, size) for face, part in self.runs(text, bold)) / PT
