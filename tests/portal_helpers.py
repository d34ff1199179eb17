"""Helpers for the portal tests: read a sign-in code the way a phone would (from the simulator)."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

from stack import wait_for


def sms_to(sim_url: str, phone: str) -> list[dict]:
    """What `phone` received, over the simulator's HTTP control API."""
    url = f"{sim_url}/_sim/messages?to={urllib.parse.quote(phone)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def codes_sent(sim_url: str, phone: str) -> list[str]:
    found = []
    for message in sms_to(sim_url, phone):
        match = re.search(r"\b(\d{6})\b", message.get("body", ""))
        if match:
            found.append(match.group(1))
    return found


def wait_for_code(sim_url: str, phone: str, count: int = 1, timeout: float = 15.0) -> str:
    """The newest code once `phone` has received `count` codes."""
    codes = wait_for(
        lambda: (c := codes_sent(sim_url, phone)) and len(c) >= count and c,
        timeout=timeout,
        message=f"sign-in code number {count}",
    )
    return codes[-1]
