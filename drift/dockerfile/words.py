"""Docker's word processing: quotes, escapes and `$VAR` expansion of instruction arguments.

The builder expands the arguments of ENV, ARG, LABEL, FROM, COPY, ADD, WORKDIR, USER,
EXPOSE, VOLUME and STOPSIGNAL itself (RUN lines are left to the shell). The rules are a
small part of the POSIX shell's: single quotes are literal, double quotes keep everything
but `$` and the escape character (which escapes only `"`, `$` and itself there), and
`$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
`${NAME:?msg}`, `${NAME#pat}`, `${NAME%pat}` and `${NAME/pat/repl}` are expanded.

Every function reads its input once, left to right (no backtracking): the cost is linear.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SPECIAL = set("@*#?-$!0")
_MAX_DEPTH = 64  # `${A:-${B:-...}}` nested deeper than this is refused, not recursed into


class WordError(ValueError):
    """An argument the builder would refuse (an unclosed quote, a bad `${...}`)."""


@dataclass(slots=True)
class _Words:
    words: list[str] = field(default_factory=list)
    buf: list[str] = field(default_factory=list)
    in_word: bool = False

    def char(self, ch: str) -> None:
        """An unquoted character: whitespace ends the word."""
        if ch.isspace():
            self.end()
        else:
            self.buf.append(ch)
            self.in_word = True

    def chunk(self, text: str) -> None:
        """A run of unquoted characters without whitespace."""
        self.buf.append(text)
        self.in_word = True

    def raw(self, text: str) -> None:
        """Quoted text: part of the word even when empty or blank."""
        self.buf.append(text)
        self.in_word = True

    def end(self) -> None:
        if self.in_word:
            self.words.append("".join(self.buf))
        self.buf, self.in_word = [], False


class _Lexer:
    def __init__(
        self,
        text: str,
        env: Mapping[str, str] | None,
        escape: str,
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
    ) -> None:
        self.text, self.pos, self.escape = text, 0, escape
        self.env = env  # None: leave every variable as written
        self.raw_quotes, self.raw_escapes = raw_quotes, raw_escapes
        self.depth = 0
        e = re.escape(escape)
        self.plain = re.compile(rf"[^\s'\"$<{e}}}]+")  # characters with no meaning, in runs
        self.plain_slash = re.compile(rf"[^\s'\"$<{e}}}/]+")  # the same inside `${V/pattern/...}`
        self.plain_quoted = re.compile(rf'[^"$<{e}]+')

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def run(self, stop: str = "", raw_escapes: bool | None = None) -> tuple[str, list[str]]:
        """Read up to `stop` (or the end): the processed text and the words it splits into."""
        saved = self.raw_escapes
        if raw_escapes is not None:
            self.raw_escapes = raw_escapes
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise WordError(f"substitutions nested more than {_MAX_DEPTH} deep")
        try:
            return self._run(stop)
        finally:
            self.raw_escapes = saved
            self.depth -= 1

    def _run(self, stop: str) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        while self.peek():
            ch = self.peek()
            run = (self.plain_slash if stop == "/" else self.plain).match(self.text, self.pos)
            if run:
                out.append(run.group())
                words.chunk(run.group())
                self.pos = run.end()
                continue
            if stop and ch == stop:
                self.next()
                words.end()
                return "".join(out), words.words
            if ch in "'\"$<":
                part = {"'": self._single, '"': self._double, "$": self._dollar, "<": self._heredoc}[ch]()
                out.append(part)
                if ch == "$":
                    for c in part:
                        words.char(c)
                else:
                    words.raw(part)
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                    words.raw(ch)
                ch = self.next()
                if not ch:
                    break
                words.raw(ch)
            else:
                words.char(ch)
            out.append(ch)
        if stop:
            raise WordError(f"unexpected end of statement while looking for matching {stop}")
        words.end()
        return "".join(out), words.words

    def _single(self) -> str:
        start = self.pos
        end = self.text.find("'", start + 1)
        if end < 0:
            raise WordError("unexpected end of statement while looking for matching single-quote")
        self.pos = end + 1
        return self.text[start : end + 1] if self.raw_quotes else self.text[start + 1 : end]

    def _double(self) -> str:
        out = ['"'] if self.raw_quotes else []
        self.next()
        while True:
            ch = self.peek()
            if not ch:
                raise WordError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.raw_quotes:
                    out.append('"')
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            run = self.plain_quoted.match(self.text, self.pos)
            if run:
                out.append(run.group())
                self.pos = run.end()
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                if not self.peek():
                    continue
                if self.peek() in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def _heredoc(self) -> str:
        """`<<` keeps the blanks after it in the same word (`<<  EOF` is one heredoc word)."""
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        start = self.pos
        while self.peek() in (" ", "\t"):
            self.next()
        return "<<" + self.text[start : self.pos]

    def _name(self) -> str:
        start = self.pos
        if self.peek().isdigit():
            while self.peek().isdigit():
                self.next()
            return self.text[start : self.pos]
        if self.peek() and self.peek() in _SPECIAL:
            return self.next()
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start : self.pos]

    def _get(self, name: str) -> str | None:
        return None if self.env is None else self.env.get(name)

    def _dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value = self._get(name)
            if value is None and self.env is None:
                return "$" + name
            return value or ""
        self.next()
        if not self.peek():
            raise WordError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise WordError("syntax error: bad substitution")
        name = self._name()
        op = self.next()
        value = self._get(name)
        if op == "}":
            return "${" + name + "}" if self.env is None else (value or "")
        colon = op == ":"
        if colon:
            op = self.next()
        if op == "/":
            return self._replace(name, value)
        if op not in ("-", "+", "?", "#", "%"):
            raise WordError(f"unsupported modifier ({':' if colon else ''}{op}) in substitution")
        if colon and op in "#%":
            raise WordError(f"unsupported modifier (:{op}) in substitution")
        word, _ = self.run("}", raw_escapes=op in "#%")
        if self.env is None:
            return "${" + name + (":" if colon else "") + op + word + "}"
        unset = value is None or (colon and value == "")
        if op == "-":
            return word if unset else str(value)
        if op == "+":
            return "" if unset else word
        if op == "?":
            if unset:
                raise WordError(f"{name}: {word or 'is not allowed to be unset'}")
            return str(value)
        return _trim(value or "", word, op)

    def _replace(self, name: str, value: str | None) -> str:
        every = self.peek() == "/"
        if every:
            self.next()
        pattern, _ = self.run("/", raw_escapes=True)
        repl, _ = self.run("}", raw_escapes=True)
        if self.env is None:
            return "${" + name + "/" + ("/" if every else "") + pattern + "/" + repl + "}"
        if not any(c in pattern for c in "*?"):
            return (value or "").replace(pattern, repl, -1 if every else 1) if pattern else value or ""
        return _glob(pattern, True).sub(lambda _: repl, value or "", count=0 if every else 1)


def _glob(pattern: str, greedy: bool) -> re.Pattern[str]:
    """A shell pattern (`*`, `?`, literal characters) as a regular expression."""
    star = ".*" if greedy else ".*?"
    return re.compile("".join(star if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _trim(value: str, word: str, op: str) -> str:
    """`${V#pat}` / `${V##pat}` (prefix) and `${V%pat}` / `${V%%pat}` (suffix)."""
    greedy = word.startswith(op)
    pattern = word[1:] if greedy else word
    if op == "%":  # a suffix is a prefix of the reversed value
        return _trim(value[::-1], "#" * greedy + pattern[::-1], "#")[::-1]
    if not any(c in pattern for c in "*?"):
        return value[len(pattern) :] if value.startswith(pattern) else value
    match = _glob(pattern, greedy).match(value)
    return value[match.end() :] if match else value


def process_word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One argument as the builder reads it: quotes removed, escapes applied, variables expanded."""
    return _Lexer(text, env, escape).run()[0]


def process_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Arguments split into words after expansion (quoted blanks stay in their word)."""
    return _Lexer(text, env, escape).run()[1]


def raw_words(text: str, escape: str = "\\") -> list[str]:
    """Words with their quotes and escapes as written (variables untouched)."""
    return _Lexer(text, None, escape, raw_quotes=True, raw_escapes=True).run()[1]


def quote_count(text: str, escape: str = "\\") -> tuple[str, bool]:
    """A heredoc delimiter word: its name, and whether any part of it was quoted."""
    lexer = _Lexer(text, None, escape)
    words = lexer.run()[1]
    raw = _Lexer(text, None, escape, raw_quotes=True).run()[1]
    if len(words) != 1 or len(raw) != 1:
        raise WordError(f"heredoc delimiter {text!r} is not one word")
    count = words[0].count("'") + words[0].count('"')
    return words[0], count != raw[0].count("'") + raw[0].count('"')
