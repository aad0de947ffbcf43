"""The build context: .dockerignore patterns as Docker reads them, and where COPY/ADD place files."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift.dockerfile.context import BuildContext, CopySpec, is_ignored, parse_dockerignore

IGNORE = """\
# comment
**/*.md
!notes/KEEP.md
build
*.pyc
/secret.txt
a/../tmp
[xy].log
lit\\*star
"""


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("README.md", True),
        ("docs/deep/guide.md", True),
        ("notes/KEEP.md", False),
        ("notes/todo.md", True),
        ("build", True),
        ("build/cache/blob.bin", True),  # a parent matches
        ("src/build", False),
        ("x.pyc", True),
        ("pkg/x.pyc", False),  # `*` does not cross a folder
        ("secret.txt", True),  # a leading slash is the context root
        ("tmp/file", True),  # patterns are cleaned paths
        ("x.log", True),
        ("z.log", False),
        ("lit*star", True),
        ("litXstar", False),
        ("app.py", False),
    ],
)
def test_dockerignore_patterns(path: str, ignored: bool) -> None:
    assert is_ignored(path, parse_dockerignore(IGNORE)) is ignored


def test_double_star_alone_and_exception_order() -> None:
    assert is_ignored("a/b/c", parse_dockerignore("**\n"))
    assert not is_ignored("keep/me", parse_dockerignore("**\n!keep\n"))
    assert is_ignored("keep/me", parse_dockerignore("!keep\n**\n"))  # the last match decides


@pytest.fixture()
def ctx(tmp_path: Path) -> BuildContext:
    files = {
        "app.py": "print(1)\n",
        "lib/util.py": "x = 1\n",
        "lib/sub/deep.py": "y = 2\n",
        "files/etc/app.conf": "port=8080\n",
        "conf/a.conf": "a\n",
        "conf/b.conf": "b\n",
        "notes/todo.md": "no\n",
        "site.tar.gz": "not really\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / ".dockerignore").write_text("**/*.md\n")
    return BuildContext(str(tmp_path))


def spec(sources: tuple[str, ...], dest: str, *, is_dir: bool = False, keyword: str = "COPY") -> CopySpec:
    return CopySpec(keyword, sources, dest, is_dir)


def never(_path: str) -> bool:
    return False


def test_file_to_a_file_and_into_a_folder(ctx: BuildContext) -> None:
    assert ctx.place(spec(("app.py",), "/srv/main.py"), never) == {"/srv/main.py": "app.py"}
    assert ctx.place(spec(("app.py",), "/srv", is_dir=True), never) == {"/srv/app.py": "app.py"}
    # no trailing slash, but the destination is a folder in the image
    assert ctx.place(spec(("app.py",), "/srv"), lambda p: p == "/srv") == {"/srv/app.py": "app.py"}


def test_a_folder_copies_what_it_holds(ctx: BuildContext) -> None:
    placed = ctx.place(spec(("files/",), "/"), never)
    assert placed == {"/etc": "files/etc", "/etc/app.conf": "files/etc/app.conf"}
    placed = ctx.place(spec(("lib",), "/opt/lib"), never)
    assert placed == {
        "/opt/lib/util.py": "lib/util.py",
        "/opt/lib/sub": "lib/sub",
        "/opt/lib/sub/deep.py": "lib/sub/deep.py",
    }


def test_the_whole_context_after_dockerignore(ctx: BuildContext) -> None:
    placed = ctx.place(spec((".",), "/app", is_dir=True), never)
    assert placed is not None
    assert "/app/app.py" in placed and "/app/lib/sub/deep.py" in placed and "/app/.dockerignore" in placed
    assert "/app/notes/todo.md" not in placed and "/app/notes" in placed


def test_globs_and_several_sources_go_into_the_destination(ctx: BuildContext) -> None:
    placed = ctx.place(spec(("conf/*.conf",), "/etc/app/", is_dir=True), never)
    assert placed == {"/etc/app/a.conf": "conf/a.conf", "/etc/app/b.conf": "conf/b.conf"}
    placed = ctx.place(spec(("app.py", "conf/a.conf"), "/x"), never)
    assert placed == {"/x/app.py": "app.py", "/x/a.conf": "conf/a.conf"}
    assert ctx.place(spec(("*.py",), "/bin", is_dir=True), never) == {"/bin/app.py": "app.py"}
    assert ctx.place(spec(("*.py",), "/bin/main.py"), never) == {"/bin/main.py": "app.py"}


def test_what_the_context_does_not_hold_is_not_placed(ctx: BuildContext) -> None:
    assert ctx.place(spec(("missing.txt",), "/x"), never) is None
    assert ctx.place(spec(("notes/todo.md",), "/x"), never) is None  # ignored: not sent to the builder
    assert ctx.place(spec(("https://example.org/a.txt",), "/x"), never) is None
    assert ctx.place(spec(("site.tar.gz",), "/srv", keyword="ADD"), never) is None  # ADD unpacks it
    assert ctx.place(spec(("site.tar.gz",), "/srv/site.tar.gz"), never) == {"/srv/site.tar.gz": "site.tar.gz"}
    assert ctx.place(CopySpec("COPY", ("/out",), "/", True, from_stage="build"), never) is None
    assert ctx.place(spec(("../../etc/passwd",), "/x"), never) is None  # never outside the context


def test_context_content_digest(ctx: BuildContext) -> None:
    import hashlib

    assert ctx.sha256("app.py") == hashlib.sha256(b"print(1)\n").hexdigest()


def test_add_of_a_tar_archive_by_content_is_not_placed(tmp_path: Path) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "bundle.bin").write_bytes(buf.getvalue())
    (tmp_path / "plain.gz.txt").write_text("not compressed\n")
    ctx = BuildContext(str(tmp_path))
    assert ctx.place(spec(("bundle.bin",), "/srv", keyword="ADD"), never) is None
    assert ctx.place(spec(("bundle.bin",), "/srv/b"), never) == {"/srv/b": "bundle.bin"}  # COPY never unpacks
    assert ctx.place(spec(("plain.gz.txt",), "/srv/p", keyword="ADD"), never) == {"/srv/p": "plain.gz.txt"}
