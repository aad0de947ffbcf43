"""What looks secret, by name and by content, and the same values with secrets taken out.

One set of rules for every output: the snapshot (what it copies and writes), `diff` findings
and fixes, `inspect` in every format, the inventory written beside a snapshot. Detection:

- by name: ENV and LABEL names, command-line flags (`--password=...`, `--token X`) and shell
  assignments (`API_TOKEN=...`, a build arg `|1 TOKEN=...` in history) whose name says secret;
- by content: PEM private key blocks and well-known token shapes (GitHub, GitLab, Slack, AWS,
  Stripe, npm, PyPI, Google, Hugging Face, OpenAI-style keys, JWTs) and passwords in URLs;
- files: credential paths (`.ssh/`, `.env`, `id_rsa.gz`, ...) and, by streaming the whole file
  (decompressing gzip, bzip2 and xz), a private key anywhere in it.

Redaction keeps the shape (`--password=<redacted>`, `NAME=<redacted>`), so a person sees what
was there without the value.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import lzma
import re
from collections.abc import Iterable
from typing import IO, Any

from drift.model import ConfigChange, Finding, ImageConfig, Inventory

REDACTED = "<redacted>"

# Words that make an option or a shell variable secret; ENV/LABEL names also with AUTH, COOKIE,
# SESSION and KEY alone (as the snapshot always did: GPG_KEY, SIGNING_KEY ...), but not in
# "authors" (org.opencontainers.image.authors) or "keyboard".
_SECRET_WORD = r"PASSW(?:OR)?D|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?"
_SECRET_NAME = re.compile(rf"{_SECRET_WORD}|KEY(?!BOARD)|AUTH(?!OR)|COOKIE|SESSION", re.IGNORECASE)

_TOKENS = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
    r"\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,65536}\.[A-Za-z0-9_-]{8,}",
    r"\bnpm_[A-Za-z0-9]{30,}",
    r"\bpypi-[A-Za-z0-9_-]{50,}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    r"\bhf_[A-Za-z0-9]{30,}",
    r"\bdckr_pat_[A-Za-z0-9_-]{20,}",
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{32,}",
)
_TOKEN = re.compile("|".join(_TOKENS))
# File content: the same shapes, each found by a literal it holds (`bytes.find` runs at memory
# speed, Python's re at ~15 MB/s) and then matched, bounded, where the token starts:
# (literal, its offset in the token, pattern).
_GH = rb"gh[pousr]_[A-Za-z0-9]{30}"
_AT_ANCHOR = tuple(
    (anchor, offset, re.compile(pattern))
    for anchor, offset, pattern in (
        (b"ghp_", 0, _GH),
        (b"gho_", 0, _GH),
        (b"ghu_", 0, _GH),
        (b"ghs_", 0, _GH),
        (b"ghr_", 0, _GH),
        (b"github_pat_", 0, rb"github_pat_[A-Za-z0-9_]{20}"),
        (b"glpat-", 0, rb"glpat-[A-Za-z0-9_-]{20}"),
        (b"xox", 0, rb"xox[abposr]-[A-Za-z0-9-]{10}"),
        (b"AKIA", 0, rb"AKIA[A-Z0-9]{16}(?![A-Za-z0-9_])"),
        (b"ASIA", 0, rb"ASIA[A-Z0-9]{16}(?![A-Za-z0-9_])"),
        (b"k_live_", 1, rb"[sr]k_live_[A-Za-z0-9]{16}"),
        (b"k_test_", 1, rb"[sr]k_test_[A-Za-z0-9]{16}"),
        (b"npm_", 0, rb"npm_[A-Za-z0-9]{30}"),
        (b"pypi-", 0, rb"pypi-[A-Za-z0-9_-]{50}"),
        (b"AIza", 0, rb"AIza[0-9A-Za-z_-]{35}"),
        (b"hf_", 0, rb"hf_[A-Za-z0-9]{30}"),
        (b"dckr_pat_", 0, rb"dckr_pat_[A-Za-z0-9_-]{20}"),
        (b"sk-", 0, rb"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{32}"),
    )
)
_PEM_AT = re.compile(rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_RUN = re.compile(rb"[A-Za-z0-9_-]*")
_JWT_TAIL = re.compile(rb"\.eyJ[A-Za-z0-9_-]{8}")
# bytes.translate maps token characters to "a" and the rest to " ": a chunk without 15 in a
# row (the shortest token, xoxb- and 10 more) holds no token, found at memory speed.
_RUN_TABLE = bytes(0x61 if c in _WORD or c == 0x2D else 0x20 for c in range(256))
_SHORTEST_RUN = b"a" * 15
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|$)", re.DOTALL)
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)(@)")
# --password=VALUE, --api-token VALUE in one string, also in a JSON or history form
# ("--token", "VALUE" and --token" "VALUE)
_FLAG = re.compile(
    rf"(--?[A-Za-z0-9_-]*(?:{_SECRET_WORD})[A-Za-z0-9_-]*)(=|\"?,?[ \t]+\"?)(\"[^\"]*\"|'[^']*'|[^\s\"']+)", re.I
)
# echo 'user:password' | chpasswd
_CHPASSWD = re.compile(r"(\b[A-Za-z0-9_.-]+:)([^\s'\":]+)(['\"]?\s*\|\s*chpasswd\b)")
_FLAG_ALONE = re.compile(rf"--?[A-Za-z0-9_-]*(?:{_SECRET_WORD})[A-Za-z0-9_-]*", re.IGNORECASE)
# NAME=VALUE in shell text (build args in history, `export TOKEN=...`)
_ASSIGN = re.compile(rf"\b([A-Za-z0-9_]*(?:{_SECRET_WORD})[A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s\"';&|]+)", re.I)

_PATHS = tuple(
    (re.compile(pattern), why)
    for pattern, why in (
        (r"(^|/)\.ssh(/|$)", "SSH keys and config"),
        (r"(^|/)\.netrc$", "netrc credentials"),
        (r"(^|/)\.git-credentials$", "git credentials"),
        (r"(^|/)\.docker/config\.json$", "registry credentials"),
        (r"(^|/)\.pgpass$", "PostgreSQL password file"),
        (r"(^|/)\.aws/credentials$", "AWS credentials"),
        (r"(^|/)\.kube/config$", "Kubernetes credentials"),
        (r"(^|/)\.(npmrc|pypirc)$", "package registry credentials"),
        (r"(^|/)\.gnupg(/|$)", "GnuPG keys"),
        (r"(^|/)\.env(\.[A-Za-z0-9_.-]+)?$", "a .env file (environment secrets)"),
        (r"(^|/)\.(bash|zsh|sh|python|mysql|psql)_?history$", "shell history"),
        (r"^/etc/g?shadow-?$", "password hashes"),
        (r"\.(pem|key|p12|pfx|jks|keystore)(\.(gz|bz2|xz|zst|zip))?$", "key material"),
        (r"(^|/)id_(rsa|dsa|ecdsa|ed25519)(\.(gz|bz2|xz|zst|zip|bak|old))?$", "SSH private key"),
    )
)
_CHUNK = 1 << 20
_OVERLAP = 256  # longer than any pattern above, so a match split by a chunk boundary is found
_MAX_INFLATED = 256 << 20  # a compressed file is read up to this much inflated


# -- detection ------------------------------------------------------------------------------


def name_looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def text_reason(text: str) -> str | None:
    """Why TEXT (a value, an argument, a command line) holds secret material, if it does."""
    if _TOKEN.search(text):
        return "holds a private key or an access token"
    if _URL_PASSWORD.search(text):
        return "holds a password in a URL"
    if _FLAG.search(text) or _ASSIGN.search(text) or _CHPASSWD.search(text):
        return "passes a secret-looking option, variable or password"
    return None


def argv_reason(argv: Iterable[str]) -> str | None:
    items = list(argv)
    for i, item in enumerate(items):
        why = text_reason(item)
        if why:
            return why
        if _FLAG_ALONE.fullmatch(item) and i + 1 < len(items):
            return "passes a secret-looking option"
    return None


def path_reason(path: str) -> str | None:
    for pattern, why in _PATHS:
        if pattern.search(path):
            return why
    return None


def content_reason(fh: IO[bytes]) -> str | None:
    """Stream FH (the whole file) for a private key or token; compressed files are inflated."""
    head = fh.read(_CHUNK)
    inner = _decompressor(head)
    if inner is not None:
        return _scan_inflated(inner, head, fh)
    return _scan(_chain(head, iter(lambda: fh.read(_CHUNK), b"")))


def _scan(chunks: Iterable[bytes]) -> str | None:
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        if _has_token(window):
            return "holds a private key or an access token"
        tail = window[-_OVERLAP:]
    return None


def _has_token(data: bytes) -> bool:
    """A private key or token in DATA, in linear time (each try is bounded)."""
    at = data.find(b"PRIVATE KEY")
    while at >= 0:
        if _PEM_AT.search(data, max(0, at - 60), at + 30):
            return True
        at = data.find(b"PRIVATE KEY", at + 1)
    if data.translate(_RUN_TABLE).find(_SHORTEST_RUN) < 0:
        return False  # no run of token characters long enough for any token (binary, prose)
    for anchor, offset, pattern in _AT_ANCHOR:
        at = data.find(anchor)
        while at >= 0:
            start = at - offset
            if start >= 0 and (start == 0 or data[start - 1] not in _WORD) and pattern.match(data, start):
                return True
            at = data.find(anchor, at + 1)
    return _has_jwt(data)


def _has_jwt(data: bytes) -> bool:
    """eyJ<8+>.eyJ<8+>: after a miss, the rest of the same run of token characters is skipped
    (a later eyJ in it ends at the same place, so it misses too)."""
    at = data.find(b"eyJ")
    while at >= 0:
        if at and data[at - 1] in _WORD:  # not where a token starts
            at = data.find(b"eyJ", at + 1)
            continue
        end = _RUN.match(data, at + 3).end()  # type: ignore[union-attr]  # `*` always matches
        if end - at - 3 >= 8 and _JWT_TAIL.match(data, end):
            return True
        at = data.find(b"eyJ", max(end, at + 1))
    return False


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterable[bytes]:
    yield first
    yield from rest


def _decompressor(head: bytes) -> Any:
    if head[:2] == b"\x1f\x8b":
        return lambda raw: gzip.GzipFile(fileobj=raw)
    if head[:3] == b"BZh":
        return lambda raw: bz2.BZ2File(raw)
    if head[:6] == b"\xfd7zXZ\x00":
        return lambda raw: lzma.LZMAFile(raw)
    return None


def _scan_inflated(opener: Any, head: bytes, fh: IO[bytes]) -> str | None:
    import io

    class _Joined(io.RawIOBase):
        def __init__(self) -> None:
            self.pending = head

        def readable(self) -> bool:
            return True

        def readinto(self, buf: Any) -> int:
            data = self.pending or fh.read(len(buf))
            self.pending = b""
            n = min(len(buf), len(data))
            buf[:n] = data[:n]
            self.pending = data[n:]
            return n

    stream = opener(io.BufferedReader(_Joined()))
    total = 0

    def chunks() -> Iterable[bytes]:
        nonlocal total
        while total < _MAX_INFLATED and (chunk := stream.read(_CHUNK)):
            total += len(chunk)
            yield chunk

    try:
        found = _scan(chunks())
    except (OSError, EOFError, lzma.LZMAError):
        return None  # not really compressed: the raw bytes were scanned by name only
    if found:
        return f"compressed; {found}"
    return None


# -- redaction ------------------------------------------------------------------------------


def redact_text(text: str, known: tuple[str, ...] = ()) -> str:
    """TEXT with private keys, tokens, URL passwords, secret options and assignments (and the
    KNOWN secret values, wherever they appear) replaced by <redacted>."""
    for value in known:
        text = text.replace(value, REDACTED)
    text = _PEM_BLOCK.sub(REDACTED, text)
    text = _TOKEN.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _CHPASSWD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _FLAG.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _ASSIGN.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def redact_value(name: str, value: str, known: tuple[str, ...] = ()) -> str:
    """An ENV or LABEL value: all of it when the name says secret, else its secret parts."""
    if value and name_looks_secret(name):
        return REDACTED
    return redact_text(value, known)


def redact_argv(argv: tuple[str, ...] | list[str] | None, known: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    if argv is None:
        return None
    out = [redact_text(a, known) for a in argv]
    for i in range(len(out) - 1):
        if _FLAG_ALONE.fullmatch(argv[i]) and out[i + 1] != REDACTED:
            out[i + 1] = REDACTED
    return tuple(out)


def env_secret_values(env: Iterable[str]) -> tuple[str, ...]:
    """The values of secret-named `NAME=value` variables (4 characters or more), longest first:
    to be hidden wherever else they appear (a command line, a label)."""
    found = set()
    for item in env:
        name, sep, value = item.partition("=")
        if sep and len(value) >= 4 and name_looks_secret(name):
            found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


def secret_values(cfg: ImageConfig | None) -> tuple[str, ...]:
    """The values of the config's secret-named ENV variables, longest first."""
    return () if cfg is None else env_secret_values(cfg.env)


def redact_env(item: str, known: tuple[str, ...] = ()) -> str:
    """One `NAME=value` ENV item as outputs show it."""
    name, sep, value = item.partition("=")
    return f"{name}{sep}{redact_value(name, value, known)}" if sep else redact_text(item, known)


def redact_config(cfg: ImageConfig | None, known: tuple[str, ...] = ()) -> ImageConfig | None:
    if cfg is None:
        return None
    return dataclasses.replace(
        cfg,
        env=tuple(redact_env(item, known) for item in cfg.env),
        labels=tuple((k, redact_value(k, v, known)) for k, v in cfg.labels),
        cmd=redact_argv(cfg.cmd, known),
        entrypoint=redact_argv(cfg.entrypoint, known),
        shell=redact_argv(cfg.shell, known),
    )


def redact_flat(key: str, value: Any, known: tuple[str, ...] = ()) -> Any:
    """A value of one config key as `ImageConfig.flat` names them (Env.X, Labels.X, Cmd, ...)."""
    if value is None:
        return None
    if key.startswith(("Env.", "Labels.")) and isinstance(value, str):
        return redact_value(key.split(".", 1)[1], value, known)
    if isinstance(value, list):
        return list(redact_argv([str(v) for v in value], known) or ())
    if isinstance(value, str):
        return redact_text(value, known)
    return value


def redact_inventory(inv: Inventory) -> Inventory:
    """The inventory as every output shows it by default: secret values replaced."""
    known = secret_values(inv.config)
    history = tuple(dataclasses.replace(h, created_by=redact_text(h.created_by, known)) for h in inv.history)
    changes = tuple(
        ConfigChange(c.key, redact_flat(c.key, c.base, known), redact_flat(c.key, c.actual, known))
        for c in inv.config_changes
    )
    files = tuple(dataclasses.replace(f, sha256=None) if f.secret and f.sha256 else f for f in inv.files)
    return dataclasses.replace(
        inv,
        files=files,
        config=redact_config(inv.config, known),
        base_config=redact_config(inv.base_config, known),
        config_changes=changes,
        history=history,
    )


def redact_finding(f: Finding, secret_files: dict[str, str], known: tuple[str, ...] = ()) -> Finding:
    """A finding without secret values; a secret file gets no `COPY` fix."""
    if f.category in ("file", "unknown") and f.name in secret_files:
        note = f"secret ({secret_files[f.name]}): not copied; add it at run time (a secret mount or a volume)"
        return dataclasses.replace(f, fix=None, detail=f"{f.detail}; {note}" if f.detail else note)
    if f.category != "config":
        return f
    expected, actual = redact_flat(f.name, f.expected, known), redact_flat(f.name, f.actual, known)
    if (expected, actual) == (f.expected, f.actual):
        return f
    note = "a secret value differs (shown redacted; --show-secrets to see it)"
    return dataclasses.replace(
        f, expected=expected, actual=actual, fix=None, detail=f"{f.detail}; {note}" if f.detail else note
    )


def redact_findings(findings: list[Finding], inv: Inventory | None) -> list[Finding]:
    """FINDINGS about INV (None: nothing known of the image) as every output shows them by default."""
    if inv is None:
        return [redact_finding(f, {}) for f in findings]
    files = {f.path: f.secret for f in inv.files if f.secret}
    files.update({f.name: why for f in findings if f.category == "file" and (why := path_reason(f.name))})
    known = secret_values(inv.config)
    return [redact_finding(f, files, known) for f in findings]
