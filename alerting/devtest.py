"""`alerting dev test [PYTEST ARGS]`: the whole suite on a fresh machine, its browser included.

The browser tests drive Debian's chromium through Playwright (tests/browsing.py), and a fresh
machine has none: the command installs it with apt-get when it may (root, apt-get present),
otherwise says exactly what to install, and then runs pytest. Its exit code is pytest's (or 1
when chromium is missing and could not be installed), so CI can call it as it is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("chromium", "fonts-dejavu-core")  # the fonts: pages render the same everywhere
FALLBACK_CHROMIUM = Path("/usr/bin/chromium")  # where tests/browsing.py looks too


@dataclass(frozen=True)
class Machine:
    """What deciding about chromium needs to know (a value, so tests can describe machines)."""

    chromium: str | None
    apt_get: str | None
    is_root: bool

    @classmethod
    def this(cls) -> Machine:
        chromium = shutil.which("chromium")
        if chromium is None and FALLBACK_CHROMIUM.exists():
            chromium = str(FALLBACK_CHROMIUM)
        return cls(chromium, shutil.which("apt-get"), os.geteuid() == 0)


class CannotInstall(Exception):
    """Chromium is missing and this process may not install it; the text says what to do."""


def install_commands(machine: Machine) -> list[list[str]]:
    """The apt-get commands that bring chromium ([] when it is there already)."""
    if machine.chromium:
        return []
    packages = " ".join(PACKAGES)
    if machine.apt_get is None:
        raise CannotInstall(
            "The browser tests need Debian's chromium and this machine has no apt-get: install "
            "chromium (as /usr/bin/chromium or on PATH) and the DejaVu fonts, then run again."
        )
    if not machine.is_root:
        raise CannotInstall(
            "The browser tests need Debian's chromium, which is not installed. Run "
            f"`sudo apt-get update && sudo apt-get install -y {packages}`, then run again."
        )
    apt = machine.apt_get
    return [[apt, "update", "-qq"], [apt, "install", "-y", "-qq", *PACKAGES]]


def ensure_chromium(machine: Machine, echo: Callable[[str], object] = print) -> None:
    """Install chromium if it is missing; CannotInstall when that is not possible."""
    commands = install_commands(machine)
    if commands:
        echo(f"chromium is missing: installing {' '.join(PACKAGES)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in commands:
        if subprocess.run(command, env=env).returncode != 0:
            raise CannotInstall(f"`{' '.join(command)}` failed; install chromium by hand.")


def run(pytest_args: Sequence[str], echo: Callable[[str], object] = print) -> int:
    """Ensure chromium, then pytest with `pytest_args`; the exit code to leave with."""
    try:
        ensure_chromium(Machine.this(), echo)
    except CannotInstall as exc:
        echo(str(exc))
        return 1
    return subprocess.run([sys.executable, "-m", "pytest", *pytest_args]).returncode
