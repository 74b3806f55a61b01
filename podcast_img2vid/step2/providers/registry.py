"""Step 2's providers by `--provider` name, and their flags, derived from their settings classes.

`BUILT_IN` names the modules shipped here; a provider from another package registers an entry
point in the group `podcast_img2vid.providers`, e.g. in its pyproject.toml:

    [project.entry-points."podcast_img2vid.providers"]
    mine = "my_package.my_provider:MyProvider"

Either way the class follows `provider_base` (name, summary, settings_class, uses_scene_length,
built as `Class(settings)`). From the settings classes come the step-2 flags with their help and
defaults (`add_provider_arguments`), the provider a command line asks for (`make_provider`), the
flags that remake a recorded clip (`settings_flags`, for review.html) and the settings a card
shows (`shown_settings`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from ...errors import UserError
from .base import ClipRequest, Provider, ProviderUnavailable, SettingInfo, setting_info

__all__ = ["BUILT_IN", "ClipRequest", "Provider", "ProviderUnavailable", "add_provider_arguments",
           "make_provider", "provider_classes", "settings_flags", "shown_settings", "unused_flags"]

BUILT_IN = {
    "svd": "podcast_img2vid.step2.providers.svd:SVDProvider",
    "kenburns": "podcast_img2vid.step2.providers.kenburns:KenBurnsProvider",
    "ltx": "podcast_img2vid.step2.providers.ltx:LTXProvider",
    "runway": "podcast_img2vid.step2.providers.cloud_services:RunwayProvider",
    "luma": "podcast_img2vid.step2.providers.cloud_services:LumaProvider",
    "pika": "podcast_img2vid.step2.providers.cloud_services:PikaProvider",
}
ENTRY_POINT_GROUP = "podcast_img2vid.providers"


@cache
def provider_classes() -> dict[str, type]:
    """Every provider class by name: the built-in ones, then those other packages register."""
    classes = {name: _load(path) for name, path in BUILT_IN.items()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in classes:
            print(f"warning: provider {entry.name!r} from {entry.value} ignored: the name is taken",
                  file=sys.stderr)
            continue
        try:
            cls = entry.load()
            if cls.name != entry.name:
                raise ValueError(f"its class is named {cls.name!r}")
            dataclasses.fields(cls.settings_class)
        except Exception as e:  # noqa: BLE001 - a broken plug-in must not stop the built-in providers
            print(f"warning: provider {entry.name!r} from {entry.value} cannot be used: {e}", file=sys.stderr)
            continue
        classes[entry.name] = cls
    return classes


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Flag:
    """One settings field as a command-line flag."""

    provider: str
    field: str
    info: SettingInfo
    names: tuple[str, ...]
    parse: Callable[[str], object] | None
    """argparse `type` (None for a bool, which is an on/off pair)."""
    default: object

    @property
    def dest(self) -> str:
        return self.names[-1].lstrip("-").replace("-", "_")


def _parser_for(annotation: object) -> Callable[[str], object] | None:
    """How to read a flag of this type: int, float, str, bool (None: --x/--no-x), or X | None."""
    if annotation is bool:
        return None
    options = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [t for t in options if t is not type(None)]

        def optional(text: str) -> object:
            return None if text.lower() == "none" else inner(text)

        optional.__name__ = inner.__name__  # argparse names the type in its errors
        return optional
    return annotation


def flags_of(name: str, defaults: object | None = None) -> list[Flag]:
    """The flags of provider `name`; defaults from `defaults` (a settings instance) or the class."""
    cls = provider_classes()[name]
    hints = typing.get_type_hints(cls.settings_class)
    flags = []
    for field in dataclasses.fields(cls.settings_class):
        info = setting_info(field)
        names = info.flags or ("--" + f"{name}-{field.name}".replace("_", "-"),)
        default = getattr(defaults, field.name) if defaults is not None else field.default
        flags.append(Flag(name, field.name, info, names, _parser_for(hints[field.name]), default))
    return flags


def add_provider_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    defaults: dict[str, object] | None = None,
    reserved: tuple[str, ...] = (),
) -> list[argparse.Action]:
    """Add every provider's flags; return the actions added.

    `defaults` maps a provider name to a settings instance whose values are the flags' defaults
    (step2_local_i2v_svd.py's constants); other providers' defaults are their classes'. Flag names
    in `reserved` are left out (the parser uses them for something else). A flag shared by
    several providers is added once, its help naming each of them.
    """
    by_dest: dict[str, list[Flag]] = {}
    for name in provider_classes():
        for flag in flags_of(name, (defaults or {}).get(name)):
            by_dest.setdefault(flag.dest, []).append(flag)
    actions = []
    for dest, shared in by_dest.items():
        first = shared[0]
        if any(f.default != first.default or f.names != first.names for f in shared):
            raise ValueError(f"providers {', '.join(f.provider for f in shared)} declare {first.names[-1]} "
                             "differently (names or defaults)")
        options: dict[str, object] = {"dest": dest, "default": first.default,
                                      "help": f"{', '.join(f.provider for f in shared)}: {first.info.help}"}
        if first.parse is None:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = first.parse
        names = [n for n in first.names if n not in reserved]
        actions.append(parser.add_argument(*names, **options))
    return actions


def unused_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Provider name -> the flags given (not at their defaults) that only that provider uses,
    for providers other than `args.provider`."""
    own = {flag.dest for flag in flags_of(args.provider)}
    unused: dict[str, list[str]] = {}
    for name in provider_classes():
        if name == args.provider:
            continue
        given = [flag.names[-1] for flag in flags_of(name)
                 if flag.dest not in own and getattr(args, flag.dest) != parser.get_default(flag.dest)]
        if given:
            unused[name] = given
    return unused


def make_provider(args: argparse.Namespace) -> Provider:
    """The provider `args.provider` names, with its settings from the parsed flags (checked)."""
    cls = provider_classes()[args.provider]
    values = {}
    for flag in flags_of(args.provider):
        value = getattr(args, flag.dest)
        if flag.info.at_least is not None and value is not None and value < flag.info.at_least:
            raise UserError(f"{flag.names[-1]} must be at least {flag.info.at_least:g} (got {value}).")
        values[flag.field] = value
    return cls(cls.settings_class(**values))


def settings_flags(name: str, recorded: dict) -> list[str] | None:
    """The flags that make clips with exactly these recorded settings (review.html's commands);
    None for a provider that is not installed or settings it cannot spell."""
    if name not in provider_classes():
        return None
    words = ["--provider", name]
    try:
        for flag in flags_of(name):
            if not flag.info.recorded:
                continue
            value = recorded[flag.info.recorded_as or flag.field]
            if flag.parse is None:
                words.append(flag.names[-1] if value else "--no-" + flag.names[-1][2:])
            else:
                words += [flag.names[-1], flag.info.flag_value(value)]
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return words


def shown_settings(name: str) -> tuple[str, ...] | None:
    """The record's keys review.html shows for provider `name` (None: not installed)."""
    if name not in provider_classes():
        return None
    return tuple(flag.info.recorded_as or flag.field for flag in flags_of(name) if flag.info.shown)
