"""The locked install: the lock covers every dependency within its range, the README's
commands use it, and (unless UNLEARN_UNLOCKED is set, to try the newest releases) the
environment the tests run in is the locked one."""

from __future__ import annotations

import os
import re
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = Path("requirements/lock.txt")


def locked() -> dict[str, str]:
    return {canonicalize_name(n): v for n, v in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", LOCK.read_text(), re.MULTILINE)}


def test_every_dependency_is_locked_within_its_range():
    pins = locked()
    for line in requires("unlearn"):  # the installed project's own list: pyproject.toml's dependencies and extras
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": "test"}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in {LOCK}: refresh it (README, Locked versions)"
        assert requirement.specifier.contains(Version(pins[name]), prereleases=True), f"{LOCK} pins {name}=={pins[name]} outside {line}"


def test_the_readme_commands_install_the_lock_and_its_torch():
    readme = Path("README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2 and all("pip install -c requirements/lock.txt torch==" in c for c in commands)
    torch = re.search(r"torch==(\S+)", commands[0]).group(1)
    assert Version(locked()["torch"]).public == torch


@pytest.mark.skipif(bool(os.environ.get("UNLEARN_UNLOCKED")), reason="UNLEARN_UNLOCKED: trying releases newer than the lock")
def test_the_environment_is_the_locked_one():
    differ = {}
    for name, pinned in locked().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # a platform's marker left it out
        if Version(installed) != Version(pinned):
            differ[name] = f"{installed} installed, {pinned} locked"
    assert not differ, f"install with -c {LOCK} (README), or set UNLEARN_UNLOCKED=1 to try newer releases: {differ}"
