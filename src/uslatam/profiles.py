"""The official Data Package v2 profiles (JSON Schemas), applied without frictionless and offline.

The profiles are the copies dplib-py ships (identical to datapackage.org/profiles/2.0/); they
are self-contained (no ``$ref``), so validating never resolves, let alone fetches, anything.
dplib itself is never imported (its import pulls in pydantic): only its data files are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

PROFILE_VERSION = "2.0"


class ProfileMissing(RuntimeError):
    """The installation lacks the official profiles (dplib-py is a dependency)."""


@dataclass(frozen=True)
class ProfileError:
    path: tuple[str | int, ...]  # where in the instance, e.g. ("resources", 0, "schema")
    message: str


def _profiles_folder() -> Path:
    spec = find_spec("dplib")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ProfileMissing("the official Data Package profiles are not installed: pip install dplib-py")
    return Path(next(iter(spec.submodule_search_locations))) / "profiles" / PROFILE_VERSION


def _read(name: str) -> dict:
    path = _profiles_folder() / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileMissing(f"cannot read the official profile {path}: {error.strerror}") from None


@cache
def _validator(name: str):
    import jsonschema

    return jsonschema.Draft7Validator(_read(name))


@cache
def _table_schema_validators():
    """The Table Schema profile split where it is slow: a field is one of fifteen alternatives, one
    a type (a field without a type is a string). Checking a field against its own type's branch
    alone gives the same verdict as the ``oneOf`` (no other branch admits that type) at a
    fifteenth of the work; a field of no known type is checked against the whole ``oneOf``."""
    import jsonschema

    profile = _read("tableschema.json")
    items = profile["properties"]["fields"]["items"]
    by_type = {}
    for branch in items["oneOf"]:
        for type_name in branch["properties"]["type"]["enum"]:
            by_type[type_name] = jsonschema.Draft7Validator(branch)
    outer = dict(profile, properties=dict(profile["properties"], fields={**profile["properties"]["fields"]}))
    outer["properties"]["fields"].pop("items")
    return jsonschema.Draft7Validator(outer), by_type, jsonschema.Draft7Validator(items)


def errors(instance: object, profile: str) -> list[ProfileError]:
    """Every place ``instance`` breaks ``profile`` ("datapackage.json", "tableschema.json", ...).

    Of an alternative (``oneOf``/``anyOf``) that no branch satisfies, the error of the branch
    that came closest is reported, so the message names the property to change.
    """
    if profile != "tableschema.json" or not isinstance(instance, dict) or not isinstance(instance.get("fields"), list):
        return _reported(_validator(profile).iter_errors(instance))
    outer, by_type, any_field = _table_schema_validators()
    found = _reported(outer.iter_errors(instance))
    for position, field in enumerate(instance["fields"]):
        type_name = field.get("type", "string") if isinstance(field, dict) else None
        if isinstance(type_name, str) and type_name not in by_type:
            message = f"{type_name!r} is not a Table Schema type ({', '.join(by_type)})"
            found.append(ProfileError(("fields", position, "type"), message))
            continue
        branch = by_type[type_name] if isinstance(type_name, str) else any_field
        found.extend(
            ProfileError(("fields", position, *e.path), e.message) for e in _reported(branch.iter_errors(field))
        )
    return found


def _reported(raw) -> list[ProfileError]:
    from jsonschema.exceptions import best_match

    found = []
    for error in raw:
        if error.context:
            error = best_match(error.context) or error
        found.append(ProfileError(tuple(error.absolute_path), error.message))
    return list(dict.fromkeys(found))  # a branch's error and its alternative's best match can be one


def where(path: tuple[str | int, ...]) -> str:
    """A profile error's place as the descriptor spells it: resources/0/schema/fields/2/type."""
    return "/".join(map(str, path)) or "the top level"
