"""Which connectors exist and how config.yaml names them.

Three sources, looked up in this order:

1. ``BUILTINS``: the channels shipped here, by name → import path. The table is explicit
   (as Rasa's ``BUILTIN_CHANNELS``) and imported only when a name is looked up, so importing
   ``connectors.base`` never imports a channel and no channel imports the registry back.
2. Classes registered at run time with ``register`` (tests, applications embedding shopbot)
   and installed packages' entry points in the group ``shopbot.connectors``
   (``[project.entry-points."shopbot.connectors"] telegram = "pkg.mod:TelegramConnector"``),
   as simonw/llm finds its plugins.
3. A dotted import path written in config.yaml (``mypackage.channels:TelegramConnector``).

Every failure is a ConfigError that names the channels there are, or why an import failed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from connectors.base import Connector, validated_options
from knowledge.errors import ConfigError

log = logging.getLogger(__name__)

#: the built-in channels: config name → "module:Class"
BUILTINS: dict[str, str] = {
    "replay": "connectors.replay_channel:ReplayConnector",
    "slack": "connectors.slack:SlackConnector",
    "web": "connectors.web:WebConnector",
    "wechat": "connectors.wechat:WeChatConnector",
    "wecom": "connectors.wechat:WeComConnector",
}
#: the entry-point group third-party packages declare their connectors in
ENTRY_POINT_GROUP = "shopbot.connectors"

_REGISTERED: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make a connector available under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} needs a class attribute `name` to be registered")
    _REGISTERED[name] = cls
    return cls


def _entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed packages' connectors (read on each call: installs change, and the
    lookup is only made when config is loaded)."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """The names a channel can be enabled by: built-ins, registered and installed ones."""
    return sorted({*BUILTINS, *_REGISTERED, *_entry_points()})


def connector_class(name: str) -> type[Connector]:
    """The connector called ``name``, or imported from ``package.module:Class``.

    ConfigError says which names exist, or why the import failed.
    """
    if name in BUILTINS:
        return _imported(BUILTINS[name], name)
    if name in _REGISTERED:
        return _REGISTERED[name]
    entry = _entry_points().get(name)
    if entry is not None:
        return _imported(entry.value, name, dist=_dist_name(entry))
    if ":" not in name and "." not in name:
        raise ConfigError(
            f"unknown channel {name!r}: the channels available are {', '.join(available())}; "
            "a third-party connector is named by its import path, e.g. mypackage.module:MyConnector"
        )
    return _imported(name, name)


def _imported(path: str, name: str, *, dist: str | None = None) -> type[Connector]:
    """The Connector subclass at ``module:Class`` (or ``module.Class``)."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    origin = f" (entry point of the package {dist})" if dist else ""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"channel {name!r}{origin}: cannot import module {module_name!r} ({exc}); install "
            f"the package that provides it. Channels available: {', '.join(available())}"
        ) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        found = "nothing" if cls is None else type(cls).__name__
        raise ConfigError(
            f"channel {name!r}{origin}: {module_name}.{attr} is {found}, not a shopbot "
            "Connector subclass (from connectors.base import Connector)"
        )
    return cls


def _dist_name(entry: metadata.EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return getattr(dist, "name", None) or "?"


def build_connectors(channels: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Connector]:
    """The enabled connectors, keyed by their config name (errors name the bad key)."""
    built: dict[str, Connector] = {}
    for key, raw in channels.items():
        cls = connector_class(key)
        options = validated_options(cls.Options, dict(raw or {}), key)
        if options.enabled:
            built[key] = cls(options)
    return built
