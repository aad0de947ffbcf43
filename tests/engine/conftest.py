"""Fixtures shared by the `drift diff` engine tests (test_diff, test_diff_output): one built image and
one hand-changed copy of it per run (made once for all workers: tests/conftest.py, `shared`), whichever
modules ask for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED, SHARED_CLEANUP, SHARED_ID, build, run_script, shared, shared_fixture

DOCKERFILE = """\
FROM {base}
# the app's runtime
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-pip jq \\
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir --break-system-packages -r /app/requirements.txt
COPY app.py /app/
ENV APP_MODE=prod
WORKDIR /app
CMD ["python3", "app.py"]
"""


def make_context(folder: Path, base: str, *, requirements: str = "requests==2.31.0\n", text: str = DOCKERFILE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text(requirements)
    (folder / "app.py").write_text("print('app')\n")
    (folder / "Dockerfile").write_text(text.format(base=base))
    return folder


@pytest.fixture(scope="session")
@shared_fixture
def df_context(base_image: str) -> Path:
    return Path(shared("df_context", lambda: str(make_context(SHARED / "df" / "ctx", base_image))))


@pytest.fixture(scope="session")
@shared_fixture
def df_image(docker_client: Any, df_context: Path) -> str:
    def make() -> str:
        tag = f"drift-test/df:{SHARED_ID}"
        build(docker_client, df_context, tag, SHARED_CLEANUP)
        return tag

    return shared("df_image", make)


@pytest.fixture(scope="session")
@shared_fixture
def df_changed(docker_client: Any, df_image: str) -> str:
    """The built image changed by hand: packages installed and purged, an ENV changed, a file written."""

    def make() -> str:
        name = f"drift-test-dfchg-{SHARED_ID}"
        script = (
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends libmariadb3 curl >/dev/null"
            " && apt-get purge -y -qq jq >/dev/null && rm -rf /var/lib/apt/lists/*"
            " && pip install -q --no-cache-dir --break-system-packages six==1.16.0"
            " && echo 'x=1' > /etc/app.conf"
        )
        c = run_script(docker_client, df_image, script, name, SHARED_CLEANUP)
        changes = ["ENV APP_MODE=staging", 'CMD ["python3", "app.py"]']
        c.commit(repository="drift-test/dfchg", tag=SHARED_ID, changes=changes)
        tag = f"drift-test/dfchg:{SHARED_ID}"
        SHARED_CLEANUP.append(("image", tag))
        return tag

    return shared("df_changed", make)
