"""Errors a user can act on, and how a message stays one line. The CLI turns UnusableInputError into
exit code 2 and one line on stderr."""

import unicodedata


class UnusableInputError(ValueError):
    """The input file or argument cannot be analysed (missing, corrupt, not a video, too big)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# bidirectional controls reorder what a terminal shows (a name can read as a different one)
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def one_line(text: object) -> str:
    """``text`` (a path, a label, a message) safe to print inside a one-line message.

    Control characters (newline, carriage return, tab, ESC, DEL, NEL ...), line and paragraph
    separators, bidirectional overrides and undecodable bytes (surrogate escapes, which would
    also crash a strict UTF-8 stream) are written as Python-style escapes (``\\n``, ``\\x1b``,
    ``\\u2028``, ``\\udcff``), and a backslash as ``\\\\`` so the escaped form reads back
    unambiguously. Text without such characters and without backslashes is returned unchanged.
    """
    s = str(text)
    if s.isprintable() and "\\" not in s:
        return s
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
        else:
            out.append(ch)
    return "".join(out)
