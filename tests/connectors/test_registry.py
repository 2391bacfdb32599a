"""The registry: built-ins by import path, third-party connectors by entry point or dotted
path, and no import cycle between the interface and the channels."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from connectors.base import Connector
from connectors.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    available,
    build_connectors,
    connector_class,
)
from knowledge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_interface_imports_no_channel():
    code = (
        "import sys, connectors.base, connectors.registry, connectors.outbound\n"
        "loaded = sorted(m for m in sys.modules if m in "
        "('connectors.web', 'connectors.slack', 'connectors.replay_channel'))\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_every_builtin_is_found_by_its_path():
    for name, path in BUILTINS.items():
        cls = connector_class(name)
        assert issubclass(cls, Connector) and cls.name == name
        assert f"{cls.__module__}:{cls.__qualname__}" == path


def write_plugin(tmp: Path, *, target: str) -> None:
    """An installed distribution (a dist-info folder on sys.path) declaring a connector in
    the ``shopbot.connectors`` entry-point group, and the module it names."""
    (tmp / "shopbot_echo_plugin.py").write_text(
        textwrap.dedent(
            """
            from connectors.base import ChannelResponse, Connector, Inbound


            class EchoConnector(Connector):
                name = "echo-plugin"

                def parse(self, request):
                    return Inbound(response=ChannelResponse.text(request.text()))

                def render(self, reply, message):
                    return ChannelResponse.text(reply.text)
            """
        ),
        encoding="utf-8",
    )
    info = tmp / "shopbot_echo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: shopbot-echo-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\necho-plugin = {target}\n", encoding="utf-8"
    )


def test_a_connector_installed_with_an_entry_point_is_available(tmp_path, monkeypatch):
    write_plugin(tmp_path, target="shopbot_echo_plugin:EchoConnector")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "echo-plugin" in available()
    built = build_connectors({"echo-plugin": {}})
    assert type(built["echo-plugin"]).__name__ == "EchoConnector"
    monkeypatch.delitem(sys.modules, "shopbot_echo_plugin", raising=False)


def test_a_broken_entry_point_names_its_package(tmp_path, monkeypatch):
    write_plugin(tmp_path, target="shopbot_echo_missing:EchoConnector")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=r"entry point of the package shopbot-echo-plugin"):
        connector_class("echo-plugin")


def test_an_unknown_name_lists_what_is_available():
    with pytest.raises(ConfigError) as raised:
        connector_class("telegarm")
    message = str(raised.value)
    assert "unknown channel 'telegarm'" in message
    for name in BUILTINS:
        assert name in message
    assert "mypackage.module:MyConnector" in message
