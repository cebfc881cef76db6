"""The descriptor and every table schema against the official Data Package v2 JSON Schemas, and
the package's own field properties against its extension profile (profiles/table-schema.json).

The official profiles are the copies dplib-py (the Frictionless team's Data Package library)
ships, identical to those published at datapackage.org/profiles/2.0/; frictionless-py 5 carries
its own reduced profiles in code, not these. No network is used.
"""

from __future__ import annotations

import copy
import json
from importlib.resources import files

import jsonschema
import pytest
from referencing import Registry, Resource

from uslatam.diff import _schema_changes

from .conftest import ROOT

OFFICIAL = "https://datapackage.org/profiles/2.0/"
PROFILE_FILES = ("datapackage.json", "dataresource.json", "tableschema.json", "tabledialect.json")
EXTENSION = json.loads((ROOT / "profiles" / "table-schema.json").read_text(encoding="utf-8"))
DESCRIPTOR = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
SCHEMAS = {r["name"]: json.loads((ROOT / r["schema"]).read_text(encoding="utf-8")) for r in DESCRIPTOR["resources"]}


def _official(name: str) -> dict:
    return json.loads((files("dplib") / "profiles" / "2.0" / name).read_text(encoding="utf-8"))


REGISTRY = Registry().with_resources(
    (OFFICIAL + name, Resource.from_contents(_official(name))) for name in PROFILE_FILES
)


def _errors(instance: object, profile: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(profile, registry=REGISTRY)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def _standard_field_properties() -> set[str]:
    fields = _official("tableschema.json")["properties"]["fields"]["items"]["oneOf"]
    return {name for alternative in fields for name in alternative["properties"]}


def test_the_descriptor_declares_data_package_v2_and_table_resources() -> None:
    assert DESCRIPTOR["$schema"] == OFFICIAL + "datapackage.json"
    assert [r.get("type") for r in DESCRIPTOR["resources"]] == ["table"] * len(DESCRIPTOR["resources"])


def test_the_descriptor_is_valid_against_the_official_v2_profile() -> None:
    assert _errors(DESCRIPTOR, _official("datapackage.json")) == []
    inline = copy.deepcopy(DESCRIPTOR)  # and with each schema in place of its path
    for resource in inline["resources"]:
        resource["schema"] = SCHEMAS[resource["name"]]
    assert _errors(inline, _official("datapackage.json")) == []


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_every_schema_is_valid_against_the_official_v2_profile_and_the_extension(table: str) -> None:
    assert _errors(SCHEMAS[table], _official("tableschema.json")) == []
    assert _errors(SCHEMAS[table], EXTENSION) == []


def test_every_custom_property_is_declared_by_the_extension() -> None:
    mixin = EXTENSION["definitions"]["fieldProperties"]["properties"]
    declared = set(mixin["fields"]["items"]["properties"])
    used = {key for schema in SCHEMAS.values() for field in schema["fields"] for key in field}
    custom = used - _standard_field_properties()
    assert custom == declared, "declare each new field property in profiles/table-schema.json"
    schema_level = {key for schema in SCHEMAS.values() for key in schema} - set(
        _official("tableschema.json")["properties"]
    )
    assert schema_level == set(mixin) - {"fields"}, "declare each new schema property in profiles/table-schema.json"


def test_self_references_take_the_v2_form() -> None:
    for table, schema in SCHEMAS.items():
        for key in schema.get("foreignKeys", []):
            assert key["reference"].get("resource") != "", f"{table}: v2 leaves a self-reference's resource out"


@pytest.mark.parametrize(
    "field, wrong",
    [
        ("multiline", "yes"),
        ("entityTypes", "person"),
        ("entityTypes", []),
        ("codelist", "ISO 3166-1 alpha-2"),
        ("precisionField", ""),
        ("vocabulary", "Entity Type"),
    ],
)
def test_the_extension_refuses_a_malformed_property(field: str, wrong: object) -> None:
    schema = copy.deepcopy(SCHEMAS["events"])
    schema["fields"][0][field] = wrong
    assert _errors(schema, EXTENSION)
    assert _errors(schema, _official("tableschema.json")) == []  # the official profile allows any extra property


def test_the_official_profile_refuses_a_numeric_example() -> None:
    schema = copy.deepcopy(SCHEMAS["sources"])
    schema["fields"][0]["example"] = 1
    assert any("example" in error for error in _errors(schema, _official("tableschema.json")))


def test_a_v1_and_a_v2_self_reference_are_the_same_key_to_diff() -> None:
    v2 = copy.deepcopy(SCHEMAS["events"])
    v1 = copy.deepcopy(v2)
    for key in v1["foreignKeys"]:
        key["reference"].setdefault("resource", "")
    assert any(key["reference"]["resource"] == "" for key in v1["foreignKeys"])
    assert _schema_changes("events", v1, v2) == []


def test_the_extension_lists_the_table_roles_and_coverage_roles_the_code_knows() -> None:
    from uslatam.schema import TABLE_ROLES
    from uslatam.units import CITES, EXCLUDES, NAMES

    mixin = EXTENSION["definitions"]["fieldProperties"]["properties"]
    assert mixin["tableRole"]["enum"] == list(TABLE_ROLES)
    assert mixin["coverage"]["enum"] == [CITES, NAMES, EXCLUDES]


# What `uslatam validate` applies: uslatam.profiles, the same official profiles without frictionless.


def _mutants(schema: dict) -> list[dict]:
    """Schemas each broken at one field in a way the profile refuses, and one unbroken."""
    mutants = [copy.deepcopy(schema)]
    for change in (
        lambda f: f.update(type="strin"),
        lambda f: f.update(constraints={"minLength": "x"}),
        lambda f: f.pop("name"),
        lambda f: f.update(example=1),
        lambda f: f.update(type=3),
        lambda f: f.pop("type", None),
    ):
        mutant = copy.deepcopy(schema)
        change(mutant["fields"][len(mutant["fields"]) // 2])
        mutants.append(mutant)
    return mutants


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_field_by_field_checking_gives_the_whole_profiles_verdict(table: str) -> None:
    from uslatam import profiles

    whole = jsonschema.Draft7Validator(_official("tableschema.json"))
    for mutant in _mutants(SCHEMAS[table]):
        expected = {tuple(error.absolute_path)[:2] for error in whole.iter_errors(mutant)}
        assert {error.path[:2] for error in profiles.errors(mutant, "tableschema.json")} == expected


def test_lint_names_the_table_column_and_property_the_profile_refuses(package_copy) -> None:
    from uslatam.validate import validate

    schema_path = package_copy / "schemas" / "quotes.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    schema["fields"][1]["constraints"]["minLength"] = "x"
    schema_path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    descriptor_path = package_copy / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    next(r for r in descriptor["resources"] if r["name"] == "events")["mediatype"] = 7
    descriptor_path.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    report = validate(package_copy, against=False)
    profile = {(f.code, f.table, f.column, f.message) for f in report.findings if "not of type" in f.message}
    events = [r["name"] for r in descriptor["resources"]].index("events")
    field = schema["fields"][1]["name"]
    assert profile == {
        ("schema-error", "quotes", field, "fields/1/constraints/minLength: 'x' is not of type 'integer'"),
        ("resource-error", "events", None, f"resources/{events}/mediatype: 7 is not of type 'string'"),
    }


def test_the_default_validation_never_imports_frictionless_nor_dplib() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from uslatam.validate import validate; report = validate(sys.argv[1]); "
        "print(report.valid, report.engines, sorted(m for m in ('frictionless', 'dplib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[0] == "True ('pandera',) []"
