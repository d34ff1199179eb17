"""`alerting dev test`: what it does about chromium on each kind of machine (nothing is installed
here: the decision is a value), and its help."""

from __future__ import annotations

import pytest

from alerting.devtest import CannotInstall, Machine, install_commands


def test_chromium_present_needs_nothing() -> None:
    assert install_commands(Machine("/usr/bin/chromium", "/usr/bin/apt-get", is_root=False)) == []


def test_root_with_apt_installs_chromium_and_fonts() -> None:
    commands = install_commands(Machine(None, "/usr/bin/apt-get", is_root=True))
    assert commands[0] == ["/usr/bin/apt-get", "update", "-qq"]
    assert commands[1] == [
        "/usr/bin/apt-get",
        "install",
        "-y",
        "-qq",
        "chromium",
        "fonts-dejavu-core",
    ]


def test_not_root_is_told_the_exact_command() -> None:
    with pytest.raises(CannotInstall) as refused:
        install_commands(Machine(None, "/usr/bin/apt-get", is_root=False))
    assert "sudo apt-get install -y chromium fonts-dejavu-core" in str(refused.value)


def test_no_apt_is_told_what_to_install() -> None:
    with pytest.raises(CannotInstall) as refused:
        install_commands(Machine(None, None, is_root=True))
    assert "no apt-get" in str(refused.value) and "chromium" in str(refused.value)


def test_dev_test_help(cli) -> None:
    result = cli("dev", "test", "--help")
    assert result.exit_code == 0
    assert "PYTEST_ARGS" in result.output and "chromium" in result.output
