r"""Values written into a Dockerfile, quoted for the instruction that reads them.

Everything drift writes into a Dockerfile comes from an image, and an image is untrusted: a
newline in a label, a path or a CMD would otherwise end the instruction and start another
(`RUN ...` that `--verify` then runs). Each helper returns text the classic builder reads back
as exactly the value given, that hadolint parses, or raises `Unsafe` when no such text exists
(the caller leaves the value out and says so). What the engine does was checked by building:

- ENV, LABEL, WORKDIR, USER (`word`): inside double quotes only `\\`, `\"` and `\$` are escapes;
  `\n` stays two characters, so a newline or other control character cannot be written. hadolint
  misreads a quoted value that ends in a backslash (`"c\\"`), so trailing backslashes go after
  the closing quote (`"c"\\''`), which both read as `c\`.
- CMD, ENTRYPOINT, SHELL (`json_list`): a JSON array, read by Go's JSON decoder, so any string
  can be written. `"` and `\` are written as `\u0022` and `\u005c` (hadolint reads `\\\"` as
  not JSON and warns DL3025), control characters as `\n`, `\t` or `\uXXXX`.
- RUN arguments (`sh`): single-quoted for sh; a control character would end the RUN line.
- Comments (`comment`): control characters are shown escaped (`\x0a`), so a comment is one line.
"""

from __future__ import annotations

import json
import re
import shlex

# Characters that end or split a Dockerfile line, or that a reader may treat as a line break;
# and lone surrogates: a byte of a name that is not UTF-8 (read with surrogateescape), which a
# Dockerfile (UTF-8 text) cannot hold and BuildKit cannot send in a build context (docker/buildx#2850).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")
_CONTROL_OR_TAB = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")
_NOT_UTF8 = re.compile(r"[\ud800-\udfff]")
# A key that can stand unquoted: no quotes, spaces, `=`, `$`, backslashes.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:/@+-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_PORT = re.compile(r"[0-9]{1,5}(-[0-9]{1,5})?(/(tcp|udp|sctp))?")
_SIGNAL = re.compile(r"(SIG)?[A-Z0-9+]{1,16}|[0-9]{1,2}")
# A package name or version as apt and pip write them (no quoting needed in a RUN line).
_PACKAGE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:~=<>!,@-]*")
PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class Unsafe(ValueError):
    """A value that no Dockerfile text reproduces exactly (the reason is the message)."""


def has_control(text: str) -> bool:
    """Whether TEXT holds a control character or a byte that is not UTF-8 (see _CONTROL)."""
    return bool(_CONTROL.search(text))


def not_utf8(text: str) -> bool:
    """Whether TEXT holds a byte that is not UTF-8 (a lone surrogate, as surrogateescape reads it)."""
    return bool(_NOT_UTF8.search(text))


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if 0xD800 <= code <= 0xDFFF else f"\\x{code:02x}"


def comment(text: str) -> str:
    """TEXT made safe to follow `# ` on one line: control characters shown as \\xNN, and a byte
    that is not UTF-8 as \\xNN too (the byte)."""
    out = _CONTROL_OR_TAB.sub(_shown, text)
    if out.endswith("\\"):
        out = out[:-1] + "\\x5c"
    return out


def sh(word: str) -> str:
    """WORD quoted for the shell of a RUN line."""
    if _CONTROL.search(word):
        raise Unsafe(
            f"{comment(word)!r} holds a control character or a byte that is not UTF-8, which a RUN line cannot hold"
        )
    return shlex.quote(word)


def package_word(word: str) -> str:
    """A package name, version or pin as dpkg or pip reported it, checked rather than quoted."""
    if not _PACKAGE_WORD.fullmatch(word):
        raise Unsafe(f"{comment(word)!r} is not a package name or version")
    return word


def word(value: str, *, plain: bool = True) -> str:
    """VALUE as one word of ENV, LABEL, WORKDIR or USER (with variable expansion off);
    unquoted when it needs no quoting and PLAIN allows it."""
    if _CONTROL.search(value):
        raise Unsafe(
            "holds a newline, another control character or a byte that is not UTF-8, which a Dockerfile cannot write"
            " there"
        )
    if plain and _PLAIN_KEY.fullmatch(value):
        return value
    body = value.rstrip("\\")
    trailing = len(value) - len(body)
    quoted = '"' + body.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'
    if trailing:
        quoted += "\\\\" * trailing + "''"
    return quoted


def key(name: str) -> str:
    """A LABEL key: unquoted when plain, else quoted; `=` cannot be written in a key."""
    if "=" in name or not name:
        raise Unsafe("a key with '=' (or an empty key) cannot be written")
    return name if _PLAIN_KEY.fullmatch(name) else word(name)


def env(name: str, value: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise Unsafe(f"the name {comment(name)!r} cannot be written in an ENV instruction")
    return f"ENV {name}={word(value, plain=False)}"


def label(name: str, value: str) -> str:
    return f"LABEL {key(name)}={word(value)}"


def _json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append("\\u0022")
        elif ch == "\\":
            out.append("\\u005c")
        elif _CONTROL_OR_TAB.match(ch):
            out.append(json.dumps(ch)[1:-1] if ch in "\n\t\r" else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_list(items: tuple[str, ...] | list[str]) -> str:
    """The exec (JSON) form of CMD, ENTRYPOINT or SHELL: every string of text can be written (not
    bytes that are not UTF-8: Go's decoder reads their escape as U+FFFD)."""
    for item in items:
        if _NOT_UTF8.search(item):
            raise Unsafe(f"{comment(item)!r} holds a byte that is not UTF-8, which JSON in a Dockerfile cannot carry")
    return "[" + ", ".join(_json_string(i) for i in items) + "]"


def copy(source: str, dest: str) -> str:
    r"""COPY SOURCE DEST; the JSON form when a path has spaces. COPY reads quotes, `$` and `\`
    in both forms (and hadolint misreads escapes there), so paths with those are not written."""
    for path in (source, dest):
        if _CONTROL_OR_TAB.search(path) or re.search(r"[\"'$\\]", path):
            raise Unsafe(f"{comment(path)!r} has characters drift does not write in COPY")
    if _PLAIN_KEY.fullmatch(source) and _PLAIN_KEY.fullmatch(dest):
        return f"COPY {source} {dest}"
    return f"COPY {json.dumps([source, dest], ensure_ascii=False)}"


def volume(paths: list[str]) -> str:
    """VOLUME expands variables in its JSON form too, so only plain paths are written."""
    for p in paths:
        if not re.fullmatch(r"/[A-Za-z0-9_.@+/ :-]*", p):
            raise Unsafe(f"the volume {comment(p)!r} has characters drift does not write in VOLUME")
    return f"VOLUME {json.dumps(paths)}"


def port(value: str) -> str:
    if not _PORT.fullmatch(value):
        raise Unsafe(f"{comment(value)!r} is not a port")
    return value


def signal(value: str) -> str:
    if not _SIGNAL.fullmatch(value):
        raise Unsafe(f"{comment(value)!r} is not a signal name")
    return value


def config_instruction(key_: str, value: object) -> str:
    """The instruction that sets one config key (as `ImageConfig.flat` names them) to VALUE."""
    if key_.startswith("Env."):
        return env(key_[4:], str(value))
    if key_.startswith("Labels."):
        return label(key_[7:], str(value))
    if key_ in ("Cmd", "Entrypoint", "Shell") and isinstance(value, list):
        return f"{key_.upper()} {json_list([str(v) for v in value])}"
    if key_ == "WorkingDir":
        return f"WORKDIR {word(str(value) or '/')}"
    if key_ == "User":
        return f"USER {word(str(value) or 'root')}"
    if key_ == "ExposedPorts" and isinstance(value, list):
        return "EXPOSE " + " ".join(port(str(v)) for v in value)
    if key_ == "Volumes" and isinstance(value, list):
        return volume([str(v) for v in value])
    if key_ == "StopSignal":
        return f"STOPSIGNAL {signal(str(value))}"
    raise Unsafe(f"drift does not write {key_}")
