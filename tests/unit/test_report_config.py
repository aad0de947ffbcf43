"""drift.toml, durations, image baselines and redaction for `drift report`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift.errors import DriftError
from drift.model import AptPackage, ImageConfig, Inventory, PipPackage, Target
from drift.report import baseline, config
from drift.report.targets import Selection
from drift.secrets import REDACTED, redact_argv, redact_env
from drift.secrets import env_secret_values as known_values


def test_config_reads_everything_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "drift.toml").write_text(
        '[report]\nfilters = ["label=env=prod"]\nimages = true\nfail_on = ["new"]\n'
        'outputs = ["json:out/r.json", "prom:/var/lib/node/drift.prom", "markdown:-"]\n'
        'retention = "90d"\n\n'
        '[[dockerfile]]\nimage = "myapp:*"\npath = "svc/Dockerfile"\nbuild_args = { V = 3 }\n'
    )
    cfg = config.load(str(tmp_path / "drift.toml"))
    assert cfg.filters == ("label=env=prod",) and cfg.images is True and cfg.all is None
    assert cfg.fail_on == ("new",) and cfg.retention == "90d"
    assert cfg.outputs == (f"json:{tmp_path}/out/r.json", "prom:/var/lib/node/drift.prom", "markdown:-")
    (m,) = cfg.dockerfiles
    assert (m.image, m.path, m.build_args) == ("myapp:*", str(tmp_path / "svc" / "Dockerfile"), (("V", "3"),))
    assert m.history_evidence is True


def test_dockerfile_history_evidence_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "drift.toml").write_text('[[dockerfile]]\nimage = "a"\npath = "D"\nhistory_evidence = false\n')
    assert config.load(str(tmp_path / "drift.toml")).dockerfiles[0].history_evidence is False
    (tmp_path / "drift.toml").write_text('[[dockerfile]]\nimage = "a"\npath = "D"\nhistory_evidence = "no"\n')
    with pytest.raises(config.ConfigError, match="history_evidence"):
        config.load(str(tmp_path / "drift.toml"))


def test_no_config_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config.load(None) == config.Config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[report\n", "not valid TOML"),
        ("[report]\nfilter = ['x']\n", "unknown key(s) in [report]: filter"),
        ("[report]\nall = 'yes'\n", "report.all must be true or false"),
        ("[[dockerfile]]\nimage = 'x'\n", "needs image"),
        ("[report]\nfilters = [1]\n", "list of strings"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "drift.toml").write_text(text)
    with pytest.raises(DriftError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        config.load(str(tmp_path / "drift.toml"))


def test_durations() -> None:
    assert config.duration("30d", "--since") == 30 * 86400
    assert config.duration("12h", "x") == 43200 and config.duration("90m", "x") == 5400
    assert config.duration("2w", "x") == 14 * 86400 and config.duration("7", "x") == 7 * 86400
    with pytest.raises(DriftError, match="use a duration like"):
        config.duration("soon", "--expires")


def test_selection_key_and_filters() -> None:
    a = Selection(names=("b", "a"), filters=("label=x=1",))
    assert a.key() == Selection(names=("a", "b"), filters=("label=x=1",)).key()
    assert a.key() != Selection(names=("a", "b")).key()
    assert Selection(filters=("label=x=1", "label=y", "name=web")).filter_dict() == {
        "label": ["x=1", "y"],
        "name": ["web"],
    }
    with pytest.raises(DriftError, match="KEY=VALUE"):
        Selection(filters=("label",)).filter_dict()


def _inv(apt: dict[str, str], pip: dict[str, str], env: tuple[str, ...]) -> Inventory:
    return Inventory(
        target=Target("image", "app:latest", "test", id="sha256:1"),
        base=None,
        apt=tuple(AptPackage(n, v, "amd64", n, v, True) for n, v in apt.items()),
        pip=tuple(PipPackage(n, v, "/usr/lib/python3/dist-packages", True, "system", "x") for n, v in pip.items()),
        environments=(),
        files=(),
        config=ImageConfig(env=env),
        base_config=None,
        config_changes=(),
        package_changes=(),
        history=(),
    )


def test_image_baseline_compare_finds_packages_and_settings_never_secrets() -> None:
    old = baseline.summarize(
        _inv({"dpkg": "1.21", "curl": "7.88", "tzdata": "2024a"}, {"six": "1.16"}, ("A=1", "API_TOKEN=s3cr3t-1")), "1"
    )
    new = baseline.summarize(
        _inv({"dpkg": "1.21", "curl": "7.89", "jq": "1.6"}, {"six": "1.16"}, ("A=2", "API_TOKEN=s3cr3t-2")), "2"
    )
    assert "s3cr3t" not in repr(old) + repr(new)
    found = {(f.category, f.manager, f.name, f.expected, f.actual) for f in baseline.compare(old, new)}
    assert found == {
        ("version", "apt", "curl", "7.88", "7.89"),
        ("undocumented", "apt", "jq", None, "1.6"),
        ("missing", "apt", "tzdata", "2024a", None),
        ("config", None, "Env.A", "1", "2"),
    }
    assert baseline.compare(old, old) == []


def test_a_secret_env_value_is_hidden_in_the_command_line_too() -> None:
    known = known_values(["DB_PASSWORD=hunter2-xyz", "MODE=prod"])
    assert known == ("hunter2-xyz",)
    assert "hunter2-xyz" not in " ".join(redact_argv(["app", "--db-url", "pg://u:hunter2-xyz@db/x"], known))


def test_redaction_of_run_settings() -> None:
    assert redact_env("DB_PASSWORD=hunter2") == f"DB_PASSWORD={REDACTED}"
    assert redact_env("MODE=prod") == "MODE=prod"
    argv = redact_argv(["server", "--api-token=abc123", "--port=80"])
    assert "abc123" not in " ".join(argv) and "--port=80" in argv
