"""Which Dockerfile line made which layer, from the history an image records (issue 16, item 2).

The classic builder's strings are recorded from images built on this project's engine
(`docker history --no-trunc --format '{{.CreatedBy}}'`); BuildKit's follow its frontend's
`commitToHistory` / `runCommandString` / the COPY commit message (no BuildKit builder here).
"""

from __future__ import annotations

from drift.dockerfile.evidence import Evidence, Made, layer_rows, match
from drift.dockerfile.parse import parse
from drift.dockerfile.resolve import resolve
from drift.sources import RawHistory
from drift.sources.fs import Entry, LayerScan, View

CLASSIC_DF = """\
FROM drift-base:bookworm
ARG VER=1.2
ARG OTHER
ENV APP_HOME=/opt/app  X="a b"
LABEL org.x=y
WORKDIR /opt/app
COPY a.txt /opt/app/
COPY d /opt/d
ADD a.txt rel.txt
RUN echo "$VER" > /etc/ver.conf &&   \\
    mkdir -p /x
RUN ["/bin/sh", "-c", "echo json > /etc/json.conf"]
RUN true
USER root
EXPOSE 80
CMD ["sh"]
RUN python3 -c "open('/etc/x.conf','w').write('1')" || sh -c 'echo 1 > /etc/x.conf'
"""
H = "00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda"
CLASSIC = [  # (created_by, empty_layer), bottom first: `docker history` of that build, reversed
    ("", False),  # the base (imported)
    ("/bin/sh -c #(nop)  ARG VER=1.2", True),
    ("/bin/sh -c #(nop)  ARG OTHER", True),
    ("/bin/sh -c #(nop)  ENV APP_HOME=/opt/app X=a b", True),
    ("/bin/sh -c #(nop)  LABEL org.x=y", True),
    ("/bin/sh -c #(nop) WORKDIR /opt/app", True),
    (f"/bin/sh -c #(nop) COPY file:{H} in /opt/app/ ", False),
    ("/bin/sh -c #(nop) COPY dir:0c42c2cd1602b1a7c5652dc2751c1dfbfb68454237d3e94d37eed98110f4a9f0 in /opt/d ", False),
    (f"/bin/sh -c #(nop) ADD file:{H} in rel.txt ", False),
    ('|2 OTHER=zz VER=1.2 /bin/sh -c echo "$VER" > /etc/ver.conf &&       mkdir -p /x', False),
    ("|2 OTHER=zz VER=1.2 /bin/sh -c echo json > /etc/json.conf", False),
    ("|2 OTHER=zz VER=1.2 /bin/sh -c true", False),
    ("/bin/sh -c #(nop)  USER root", True),
    ("/bin/sh -c #(nop)  EXPOSE 80", True),
    ('/bin/sh -c #(nop)  CMD ["sh"]', True),
    (
        "|2 OTHER=zz VER=1.2 /bin/sh -c python3 -c \"open('/etc/x.conf','w').write('1')\""
        " || sh -c 'echo 1 > /etc/x.conf'",
        False,
    ),
]


def rows(items: list[tuple[str, bool]], comment: str = "") -> list[RawHistory]:
    return [RawHistory("", text, comment, None, empty) for text, empty in items]


def build(text: str, build_args: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return resolve(parse(text), base_config=None, build_args=build_args or {})


def lines(ev: Evidence) -> dict[int, tuple[int, str]]:
    return {k: (m.line, m.keyword) for k, m in ev.made.items()}


def test_classic_builder_every_layer_made_by_its_line() -> None:
    ev = match(rows(CLASSIC), 1, 8, build(CLASSIC_DF, {"OTHER": "zz"}))
    assert ev.stop is None
    assert lines(ev) == {
        1: (7, "COPY"),
        2: (8, "COPY"),
        3: (9, "ADD"),
        4: (10, "RUN"),
        5: (12, "RUN"),
        6: (13, "RUN"),
        7: (17, "RUN"),
    }
    assert ev.made[3].dest == "/opt/app/rel.txt" and ev.made[1].dest == "/opt/app"


def test_build_args_are_names_the_dockerfile_declares_values_not_compared() -> None:
    # the image was built with OTHER=zz; drift was given no value: the line still made the layer
    assert match(rows(CLASSIC), 1, 8, build(CLASSIC_DF)).stop is None
    forged = [*CLASSIC[:9], ('|2 OTHER=zz NOPE=1 /bin/sh -c echo "$VER" > /etc/ver.conf && mkdir -p /x', False)]
    ev = match(rows(forged), 1, 5, build(CLASSIC_DF))
    assert sorted(ev.made) == [1, 2, 3] and ev.stop and "layer 5" in ev.stop


def test_a_commit_on_top_is_unmatched() -> None:
    committed = [*CLASSIC, ("bash -c echo hand > /etc/hand.conf", False)]
    ev = match(rows(committed), 1, 9, build(CLASSIC_DF))
    assert sorted(ev.made) == [1, 2, 3, 4, 5, 6, 7] and 8 not in ev.made
    assert ev.stop is not None and "layer 9" in ev.stop


def test_a_commit_that_looks_like_a_run_line_still_has_no_line_left() -> None:
    committed = [*CLASSIC, ("/bin/sh -c true", False)]
    ev = match(rows(committed), 1, 9, build(CLASSIC_DF))
    assert 8 not in ev.made


def test_another_revision_ends_the_matched_part() -> None:
    df = CLASSIC_DF.replace('RUN ["/bin/sh", "-c", "echo json > /etc/json.conf"]', "RUN echo other > /etc/json.conf")
    ev = match(rows(CLASSIC), 1, 8, build(df))
    assert sorted(ev.made) == [1, 2, 3, 4]  # layer 5 is the JSON RUN the file no longer has
    assert ev.stop is not None and "layer 6" in ev.stop


def test_classic_never_skips_a_run() -> None:
    df = CLASSIC_DF.replace("RUN true\n", "RUN true\nRUN echo extra\n")
    ev = match(rows(CLASSIC), 1, 8, build(df))
    assert 7 not in ev.made and ev.stop is not None


def test_whitespace_is_normalised() -> None:
    df = "FROM b\nRUN a  &&\\\n      b\n"
    assert lines(match(rows([("", False), ("/bin/sh -c a && b", False)]), 1, 2, build(df))) == {1: (2, "RUN")}


def test_shell_instruction_changes_the_recorded_shell() -> None:
    df = 'FROM b\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN a | b\nCOPY x /y\n'
    hist = [
        ("", False),
        ("/bin/sh -c #(nop)  SHELL [/bin/bash -o pipefail -c]", True),
        ("/bin/bash -o pipefail -c a | b", False),
        (f"/bin/bash -o pipefail -c #(nop) COPY file:{H} in /y ", False),
    ]
    assert lines(match(rows(hist), 1, 3, build(df))) == {1: (3, "RUN"), 2: (4, "COPY")}
    wrong = [*hist[:2], ("/bin/sh -c a | b", False)]
    assert match(rows(wrong), 1, 2, build(df)).made == {}


BUILDKIT_DF = """\
FROM b
ARG VER=1.2
ARG UNSET
WORKDIR /app
COPY --chmod=0755 a.txt b.txt ./
RUN --mount=type=cache,target=/root/.cache echo "$VER" > /etc/ver.conf
RUN true
ADD https://example.org/x.tgz /opt/
"""
BUILDKIT = [
    ("", False),
    ("ARG VER=1.2", True),
    ("ARG UNSET", True),
    ("WORKDIR /app", False),
    ("COPY --chmod=0755 a.txt b.txt ./ # buildkit", False),
    ('RUN |2 VER=1.2 UNSET= /bin/sh -c echo "$VER" > /etc/ver.conf # buildkit', False),
    ("RUN |2 VER=1.2 UNSET= /bin/sh -c true # buildkit", True),  # changed nothing: no layer
    ("ADD https://example.org/x.tgz /opt/ # buildkit", False),
]


def test_buildkit_forms() -> None:
    ev = match(rows(BUILDKIT, "buildkit.dockerfile.v0"), 1, 5, build(BUILDKIT_DF))
    assert ev.stop is None
    assert lines(ev) == {1: (4, "WORKDIR"), 2: (5, "COPY"), 3: (6, "RUN"), 4: (8, "ADD")}
    assert ev.made[2].dest == "/app" and ev.made[4].dest == "/opt"


def test_buildkit_workdir_that_made_no_layer_and_older_copy_message() -> None:
    hist = [(t, True) if t.startswith("WORKDIR") else (t, e) for t, e in BUILDKIT]
    hist[4] = ("COPY a.txt b.txt ./ # buildkit", False)  # before BuildKit recorded --chmod
    ev = match(rows(hist, "buildkit.dockerfile.v0"), 1, 4, build(BUILDKIT_DF))
    assert lines(ev) == {1: (5, "COPY"), 2: (6, "RUN"), 3: (8, "ADD")}


def test_layers_the_api_guessed_empty() -> None:
    # the engine's API has no empty_layer: drift guesses from the size, and a RUN that only
    # deleted files (size 0) looks empty: BuildKit's rows are counted as layers then
    guessed = [(t, t.startswith("RUN |2 VER=1.2 UNSET= /bin/sh -c ")) if "RUN" in t else (t, e) for t, e in BUILDKIT]
    assert layer_rows(rows(guessed), 6) == [0, None, None, 1, 2, 3, 4, 5]
    ev = match(rows(guessed, "buildkit.dockerfile.v0"), 1, 6, build(BUILDKIT_DF))
    assert lines(ev) == {1: (4, "WORKDIR"), 2: (5, "COPY"), 3: (6, "RUN"), 4: (7, "RUN"), 5: (8, "ADD")}
    # one of two size-0 RUN rows made no layer: which one cannot be told, so no row is tied to a layer
    assert layer_rows(rows(guessed), 5) is None


def test_rows_that_do_not_add_up_give_no_evidence() -> None:
    ev = match(rows(CLASSIC), 1, 12, build(CLASSIC_DF))
    assert ev.made == {} and ev.stop is not None and "12 layers" in ev.stop


def _view() -> View:
    def entry(kind: str = "file") -> Entry:
        return Entry(kind, 0o644, 0, 0, 1, 0)

    base = LayerScan(None, {"/etc": entry("dir"), "/etc/gone": entry(), "/etc/old": entry()})
    copy = LayerScan(
        None, {"/opt": entry("dir"), "/opt/app": entry("dir"), "/opt/app/a.txt": entry(), "/etc/x": entry()}
    )
    run = LayerScan(None, {"/etc/pam.d/common-auth": entry()}, whiteouts=["/etc/gone"])
    hand = LayerScan(None, {"/etc/hand.conf": entry()}, whiteouts=["/etc/old"])
    return View([base, copy, run, hand])


def test_explaining_by_layer() -> None:
    view = _view()
    ev = Evidence({1: Made(1, 7, "COPY", "/opt/app"), 2: Made(2, 10, "RUN")}, "layer 4 matches no line")
    assert ev.explaining(view, "/opt/app/a.txt") == ev.made[1]
    assert ev.explaining(view, "/opt") == ev.made[1]  # a folder made to hold the destination
    assert ev.explaining(view, "/etc/x") is None  # in the COPY's layer, outside its destination
    assert ev.explaining(view, "/etc/pam.d/common-auth") == ev.made[2]
    assert ev.made[2].reason() == "written by line 10's RUN (image history)"
    assert ev.explaining(view, "/etc/gone", deleted=True) == ev.made[2]
    assert ev.explaining(view, "/etc/hand.conf") is None and ev.after_build(view, "/etc/hand.conf")
    assert ev.explaining(view, "/etc/old", deleted=True) is None and ev.after_build(view, "/etc/old", deleted=True)
    assert not ev.after_build(view, "/etc/x")


def test_a_stop_message_never_shows_build_arg_values() -> None:
    """The classic builder records build args with their values (`|1 TOKEN=... /bin/sh -c ...`)."""
    from drift.dockerfile.evidence import _short

    shown = _short("|1 DEPLOY_TOKEN=build-arg-tok-000 /bin/sh -c useradd -u 1500 appuser")
    assert "build-arg-tok-000" not in shown and "useradd" in shown


def test_engine_history_times_are_written_as_the_image_config_writes_them() -> None:
    from drift.sources.docker import _iso_created

    assert _iso_created(1_700_000_000) == "2023-11-14T22:13:20Z"
    assert _iso_created("2023-11-14T22:13:20.123456789Z") == "2023-11-14T22:13:20.123456789Z"
    assert _iso_created(None) == "" and _iso_created(True) == "True"
    assert _iso_created(10**30) == str(10**30)  # out of range: kept as given, no crash
