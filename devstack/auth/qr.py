"""A small QR Code encoder (byte mode) and the SVG GoTrue returns at TOTP enrolment.

GoTrue encodes the ``otpauth://`` URI with error-correction level H at the smallest
version that fits (``qr.Encode(uri, qr.H, qr.Auto)``) and draws it with goqrsvg at 3 px
per module. This follows ISO/IEC 18004 (the same steps as Project Nayuki's reference
implementation): data codewords, Reed-Solomon blocks interleaved, function patterns,
the eight masks scored by the standard penalty rules, format and version information.
"""

from __future__ import annotations

from collections.abc import Callable

# Per error-correction level (L, M, Q, H), indexed by version (index 0 unused).
_ECC_PER_BLOCK = {
    "L": [-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
          28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    "M": [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
          26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
    "Q": [-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
          28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    "H": [-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
          30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
}  # fmt: skip
_NUM_BLOCKS = {
    "L": [-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12,
          12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
    "M": [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20,
          21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
    "Q": [-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25,
          27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
    "H": [-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30,
          32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
}  # fmt: skip
_FORMAT_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}


_MASKS: list[Callable[[int, int], bool]] = [
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
]


def _raw_modules(version: int) -> int:
    result = (16 * version + 128) * version + 64
    if version >= 2:
        num_align = version // 7 + 2
        result -= (25 * num_align - 10) * num_align - 55
        if version >= 7:
            result -= 36
    return result


def _data_codewords(version: int, ecl: str) -> int:
    return _raw_modules(version) // 8 - _ECC_PER_BLOCK[ecl][version] * _NUM_BLOCKS[ecl][version]


def _gf_multiply(x: int, y: int) -> int:
    z = 0
    for i in reversed(range(8)):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((y >> i) & 1) * x
    return z


def _rs_divisor(degree: int) -> list[int]:
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_multiply(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_multiply(root, 0x02)
    return result


def _rs_remainder(data: list[int], divisor: list[int]) -> list[int]:
    result = [0] * len(divisor)
    for byte in data:
        factor = byte ^ result.pop(0)
        result.append(0)
        for i, coef in enumerate(divisor):
            result[i] ^= _gf_multiply(coef, factor)
    return result


def _alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    num_align = version // 7 + 2
    step = 26 if version == 32 else (version * 4 + num_align * 2 + 1) // (num_align * 2 - 2) * 2
    result = [version * 4 + 10 - i * step for i in range(num_align - 1)] + [6]
    return sorted(result)


class _Matrix:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = version * 4 + 17
        self.modules = [[False] * self.size for _ in range(self.size)]
        self.function = [[False] * self.size for _ in range(self.size)]

    def set_function(self, x: int, y: int, dark: bool) -> None:
        self.modules[y][x] = dark
        self.function[y][x] = True

    def draw_function_patterns(self) -> None:
        size = self.size
        for i in range(size):
            self.set_function(6, i, i % 2 == 0)
            self.set_function(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        dist = max(abs(dx), abs(dy))
                        self.set_function(x, y, dist not in (2, 4))
        positions = _alignment_positions(self.version)
        last = len(positions) - 1
        for i, px in enumerate(positions):
            for j, py in enumerate(positions):
                if (i == 0 and j == 0) or (i == 0 and j == last) or (i == last and j == 0):
                    continue
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set_function(px + dx, py + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(0, "M")
        self.draw_version()

    def draw_format(self, mask: int, ecl: str) -> None:
        data = _FORMAT_BITS[ecl] << 3 | mask
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412
        size = self.size
        for i in range(6):
            self.set_function(8, i, (bits >> i) & 1 == 1)
        self.set_function(8, 7, (bits >> 6) & 1 == 1)
        self.set_function(8, 8, (bits >> 7) & 1 == 1)
        self.set_function(7, 8, (bits >> 8) & 1 == 1)
        for i in range(9, 15):
            self.set_function(14 - i, 8, (bits >> i) & 1 == 1)
        for i in range(8):
            self.set_function(size - 1 - i, 8, (bits >> i) & 1 == 1)
        for i in range(8, 15):
            self.set_function(8, size - 15 + i, (bits >> i) & 1 == 1)
        self.set_function(8, size - 8, True)

    def draw_version(self) -> None:
        if self.version < 7:
            return
        rem = self.version
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        bits = self.version << 12 | rem
        for i in range(18):
            dark = (bits >> i) & 1 == 1
            a, b = self.size - 11 + i % 3, i // 3
            self.set_function(a, b, dark)
            self.set_function(b, a, dark)

    def draw_codewords(self, data: list[int]) -> None:
        i = 0
        size = self.size
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5
            for vert in range(size):
                for j in range(2):
                    x = right - j
                    upward = ((right + 1) & 2) == 0
                    y = size - 1 - vert if upward else vert
                    if not self.function[y][x] and i < len(data) * 8:
                        self.modules[y][x] = (data[i >> 3] >> (7 - (i & 7))) & 1 == 1
                        i += 1
            right -= 2

    def apply_mask(self, mask: int) -> None:
        rule = _MASKS[mask]
        for y in range(self.size):
            for x in range(self.size):
                if not self.function[y][x] and rule(x, y):
                    self.modules[y][x] = not self.modules[y][x]

    def penalty(self) -> int:
        size = self.size
        grid = self.modules
        result = 0

        def runs_penalty(line: list[bool]) -> int:
            score = 0
            run_color, run_len = line[0], 1
            for cell in line[1:]:
                if cell == run_color:
                    run_len += 1
                else:
                    if run_len >= 5:
                        score += 3 + run_len - 5
                    run_color, run_len = cell, 1
            if run_len >= 5:
                score += 3 + run_len - 5
            return score

        finder_a = [True, False, True, True, True, False, True, False, False, False, False]
        finder_b = finder_a[::-1]

        def finder_penalty(line: list[bool]) -> int:
            score = 0
            padded = [False] * 4 + line + [False] * 4
            for start in range(len(padded) - 10):
                window = padded[start : start + 11]
                if window in (finder_a, finder_b):
                    score += 40
            return score

        for y in range(size):
            row = grid[y]
            result += runs_penalty(row) + finder_penalty(row)
        for x in range(size):
            column = [grid[y][x] for y in range(size)]
            result += runs_penalty(column) + finder_penalty(column)
        for y in range(size - 1):
            for x in range(size - 1):
                color = grid[y][x]
                if color == grid[y][x + 1] == grid[y + 1][x] == grid[y + 1][x + 1]:
                    result += 3
        dark = sum(cell for row in grid for cell in row)
        total = size * size
        k = (abs(dark * 20 - total * 10) + total - 1) // total - 1
        result += max(k, 0) * 10
        return result


def encode(text: str, ecl: str = "H") -> list[list[bool]]:
    """The modules (True = dark) of the smallest QR Code holding ``text`` in byte mode."""
    data = text.encode("utf-8")
    for version in range(1, 41):
        count_bits = 8 if version <= 9 else 16
        capacity_bits = _data_codewords(version, ecl) * 8
        if 4 + count_bits + len(data) * 8 <= capacity_bits:
            break
    else:
        raise ValueError("data too long for a QR Code")

    bits: list[int] = []

    def append(value: int, length: int) -> None:
        bits.extend((value >> i) & 1 for i in reversed(range(length)))

    append(0b0100, 4)
    append(len(data), count_bits)
    for byte in data:
        append(byte, 8)
    append(0, min(4, capacity_bits - len(bits)))
    append(0, -len(bits) % 8)
    pad = 0xEC
    while len(bits) < capacity_bits:
        append(pad, 8)
        pad ^= 0xEC ^ 0x11
    codewords = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]

    num_blocks = _NUM_BLOCKS[ecl][version]
    ecc_len = _ECC_PER_BLOCK[ecl][version]
    raw_codewords = _raw_modules(version) // 8
    num_short = num_blocks - raw_codewords % num_blocks
    short_len = raw_codewords // num_blocks
    divisor = _rs_divisor(ecc_len)
    blocks: list[list[int]] = []
    k = 0
    for i in range(num_blocks):
        length = short_len - ecc_len + (0 if i < num_short else 1)
        block = codewords[k : k + length]
        k += length
        ecc = _rs_remainder(block, divisor)
        if i < num_short:
            block = [*block, 0]
        blocks.append(block + ecc)
    interleaved: list[int] = []
    for i in range(len(blocks[0])):
        for j, block in enumerate(blocks):
            if i != short_len - ecc_len or j >= num_short:
                interleaved.append(block[i])

    matrix = _Matrix(version)
    matrix.draw_function_patterns()
    matrix.draw_codewords(interleaved)
    best_mask, best_penalty = 0, -1
    for mask in range(8):
        matrix.apply_mask(mask)
        matrix.draw_format(mask, ecl)
        score = matrix.penalty()
        if best_penalty < 0 or score < best_penalty:
            best_mask, best_penalty = mask, score
        matrix.apply_mask(mask)  # undo (XOR)
    matrix.apply_mask(best_mask)
    matrix.draw_format(best_mask, ecl)
    return matrix.modules


def qr_svg(text: str, module: int = 3) -> str:
    """The QR Code of ``text`` as goqrsvg draws it: an SVG of ``module``-pixel squares
    (black on white, with goqrsvg's 4-module quiet zone)."""
    modules = encode(text)
    border = 4
    size = (len(modules) + 2 * border) * module
    parts = [
        '<?xml version="1.0"?>\n'
        "<!-- Generated by SVGo -->\n"
        f'<svg width="{size}" height="{size}"\n'
        '     xmlns="http://www.w3.org/2000/svg"\n'
        '     xmlns:xlink="http://www.w3.org/1999/xlink">\n'
        f'<rect x="0" y="0" width="{size}" height="{size}" style="fill:white;stroke:none" />\n'
    ]
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                parts.append(
                    f'<rect x="{(x + border) * module}" y="{(y + border) * module}"'
                    f' width="{module}" height="{module}" style="fill:black;stroke:none" />\n'
                )
    parts.append("</svg>\n")
    return "".join(parts)
