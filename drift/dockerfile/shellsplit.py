"""Split a shell script into its simple commands, in one pass.

A small POSIX-shell tokenizer: quotes (`'...'`, `"..."` with its escapes), `\\` escapes and
line continuations, `$(...)`, `${...}` and backquotes kept inside their word, comments,
operators (`&& || ; ;; | & ( )` and newlines), redirections (`2>`, `>>`, `&>`, `<<EOF` whose
body is skipped). Reserved words are not commands: what follows `if`, `then`, `else`,
`elif`, `while`, `until`, `do`, `{`, `!` is, `for NAME in ...` and `case WORD in` clauses
are skipped, and so are `case` patterns (`x|y)`). Every character is read once: the cost
is linear in the script's length, whatever its words (a 10 MB word is fine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPERATORS = ("&&", "||", ";;&", ";;", ";&", "|&", ";", "|", "&", "(", ")", "\n")
_REDIRECTS = ("&>>", "&>", ">>", ">|", ">&", "<<<", "<<-", "<<", "<>", "<&", ">", "<")
_RESERVED = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{", "}", "!", "esac"}
_CLAUSES = {"for", "select"}  # `for NAME in words` up to `;`, a newline or `do` is not a command
_CASE_ENDS = {";;", ";&", ";;&"}
_PLAIN = re.compile(r"[^ \t\r\n;&|()<>'\"\\$`]*")  # runs of characters with no meaning
_PLAIN_QUOTED = re.compile(r'[^"\\$`]*')
_IN_PARENS = re.compile(r"[^'\"\\()]*")
_IN_BRACES = re.compile(r"[^'\"\\{}]*")
_IN_DOUBLE = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.S)  # up to the closing double quote
_IN_BACKQUOTES = re.compile(r"[^`\\]*")


class Op(str):
    """An operator or a redirection, never a quoted word that looks like one."""


@dataclass(slots=True)
class _Tokens:
    text: str
    pos: int = 0
    broken: str | None = None  # the start of an unclosed quote, when the script has one

    def run(self) -> list[str]:
        out: list[str] = []
        heredocs: list[tuple[str, bool]] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif ch in " \t\r":
                self.pos += 1
            elif ch == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif ch == "\n":
                out.append(Op("\n"))
                self.pos += 1
                for delimiter, strip in heredocs:
                    self._skip_body(delimiter, strip)
                heredocs = []
            elif op := self._operator():
                out.append(op)
                if op.lstrip("0123456789").startswith("<<") and not op.endswith("<<<"):
                    while text.startswith((" ", "\t"), self.pos):
                        self.pos += 1
                    word = self._word()
                    if word is not None:
                        out.append(word)
                        heredocs.append((word, op.endswith("-")))
            else:
                word = self._word()
                if word is None:
                    break
                out.append(word)
        return out

    def _operator(self) -> Op | None:
        text, pos = self.text, self.pos
        digits = pos
        while digits < len(text) and text[digits].isdigit():
            digits += 1
        for op in _REDIRECTS:
            if text.startswith(op, digits):
                self.pos = digits + len(op)
                if op.endswith("&"):  # `2>&1`, `>&-`: a descriptor, not a file
                    while self.pos < len(text) and (text[self.pos].isdigit() or text[self.pos] == "-"):
                        self.pos += 1
                return Op(text[pos : self.pos])
        if digits > pos:
            return None
        for op in _OPERATORS:
            if text.startswith(op, pos):
                self.pos = pos + len(op)
                return Op(op)
        return None

    def _word(self) -> str | None:
        """One word, quotes removed; None (and `broken` set) at an unclosed quote."""
        text = self.text
        out: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n;&|()<>":
                break
            start = self.pos
            if ch == "'":
                end = text.find("'", start + 1)
                if end < 0:
                    return self._broken(start)
                out.append(text[start + 1 : end])
                self.pos = end + 1
            elif ch == '"':
                part = self._double()
                if part is None:
                    return self._broken(start)
                out.append(part)
            elif ch == "\\":
                if text.startswith("\\\n", start):
                    self.pos += 2
                    continue
                out.append(text[start + 1 : start + 2])
                self.pos += 2
            elif (ch == "$" and text.startswith(("$(", "${"), start)) or ch == "`":
                end = self._nested(start)
                if end < 0:
                    return self._broken(start)
                out.append(text[start:end])
                self.pos = end
            else:
                end = _PLAIN.match(text, start + 1).end()  # type: ignore[union-attr]
                out.append(text[start:end])
                self.pos = end
        return "".join(out)

    def _double(self) -> str | None:
        text = self.text
        out: list[str] = []
        self.pos += 1
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '$`"\\\n':
                if text[self.pos + 1] != "\n":
                    out.append(text[self.pos + 1])
                self.pos += 2
            elif ch in "$`" and (text.startswith(("$(", "${"), self.pos) or ch == "`"):
                end = self._nested(self.pos)
                if end < 0:
                    return None
                out.append(text[self.pos : end])
                self.pos = end
            else:
                end = _PLAIN_QUOTED.match(text, self.pos + 1).end()  # type: ignore[union-attr]
                out.append(text[self.pos : end])
                self.pos = end
        return None

    def _nested(self, start: int) -> int:
        """The end of `$(...)`, `${...}` or a backquoted command starting at `start` (-1 if open)."""
        text = self.text
        if text[start] == "`":
            end = start + 1
            while end < len(text) and text[end] != "`":
                end = _IN_BACKQUOTES.match(text, end + 2 if text[end] == "\\" else end).end()  # type: ignore[union-attr]
            return end + 1 if end < len(text) else -1
        opener, close = text[start + 1], ")" if text[start + 1] == "(" else "}"
        plain = _IN_PARENS if opener == "(" else _IN_BRACES
        depth, pos = 0, start + 1
        while pos < len(text):
            ch = text[pos]
            if ch == "'":
                pos = text.find("'", pos + 1)
                if pos < 0:
                    return -1
            elif ch == '"':
                pos = _IN_DOUBLE.match(text, pos + 1).end()  # type: ignore[union-attr]
                if pos >= len(text):
                    return -1
            elif ch == "\\":
                pos += 1
            elif ch == opener:
                depth += 1
            elif ch == close:
                depth -= 1
                if depth == 0:
                    return pos + 1
            pos = plain.match(text, pos + 1).end()  # type: ignore[union-attr]
        return -1

    def _skip_body(self, delimiter: str, strip_tabs: bool) -> None:
        text = self.text
        while self.pos < len(text):
            end = text.find("\n", self.pos)
            line = text[self.pos : len(text) if end < 0 else end]
            self.pos = len(text) if end < 0 else end + 1
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                return

    def _broken(self, start: int) -> str | None:
        line_start = self.text.rfind("\n", 0, start) + 1
        self.broken = self.text[line_start : line_start + 80]
        self.pos = len(self.text)
        return None


def split_commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script; a command piped into starts with "|"."""
    lexer = _Tokens(script)
    tokens = lexer.run()
    commands: list[list[str]] = []
    current: list[str] = []
    skip_to_separator = False  # inside `for NAME in ...`
    patterns = False  # expecting a `case` pattern list, up to `)`
    case_word = 0  # inside `case WORD in`: words until `in`
    for tok in tokens:
        if isinstance(tok, Op) and tok in _OPERATORS:
            if current and current != ["|"]:
                commands.append(current)
            current = ["|"] if tok in ("|", "|&") else []
            skip_to_separator = False
            if patterns and tok == ")":
                patterns = False
            elif tok in _CASE_ENDS:
                patterns = True
            continue
        if patterns:
            if tok == "esac":
                patterns = False
            continue
        if case_word:
            case_word = 0 if tok == "in" else case_word
            patterns = tok == "in"
            continue
        if skip_to_separator:
            if tok == "do":
                skip_to_separator = False
            continue
        if len(current) <= (1 if current[:1] == ["|"] else 0) and not isinstance(tok, Op):
            if tok in _RESERVED:
                continue
            if tok in _CLAUSES:
                skip_to_separator = True
                continue
            if tok == "case":
                case_word = 1
                continue
        current.append(tok)
    if current and current != ["|"]:
        commands.append(current)
    if lexer.broken is not None:
        commands.append(["<unparsable>", lexer.broken])
    return commands
