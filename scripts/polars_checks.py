"""The measuring stick: a package's declared Table Schema checks in plain polars, as a user would write them.

Types, required, enum, pattern, minimum/maximum, minLength/maxLength, unique, primary and
foreign keys, read generically from the descriptor and its schemas. It checks less than
`uslatam validate` (no byte-level CSV screen, no spans against their texts, no rules, no line
numbers in its report) and is kept only so that scripts/bench_validate.py can time what a user
would write instead. Prints the number of failing cells or rows per check; exit 1 if any.

    python scripts/polars_checks.py PACKAGE_FOLDER
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import polars as pl

CASTS = {"integer": pl.Int64, "number": pl.Float64, "boolean": pl.Boolean}


def typed(column: pl.Expr, field: dict) -> pl.Expr:
    kind = field.get("type", "string")
    if kind == "date":
        return column.str.to_date("%Y-%m-%d", strict=False)
    return column.cast(CASTS[kind], strict=False) if kind in CASTS else column


def read(package: Path, resource: dict, schema: dict) -> pl.DataFrame:
    names = [f["name"] for f in schema["fields"]]
    missing = schema.get("missingValues", [""])
    frame = pl.read_csv(package / resource["path"], infer_schema=False, null_values=missing or None)
    return frame.select(names) if set(names) <= set(frame.columns) else frame


def check_table(frame: pl.DataFrame, schema: dict, errors: Counter) -> pl.DataFrame:
    """Counts every failing cell of the field checks and the duplicated primary keys; returns the typed frame."""
    checks, typed_columns = [], []
    for field in schema["fields"]:
        name, constraints = field["name"], field.get("constraints", {})
        if name not in frame.columns:
            errors["missing-field"] += 1
            continue
        raw, value = pl.col(name), typed(pl.col(name), field)
        typed_columns.append(value.alias(name))
        checks.append((raw.is_not_null() & value.is_null()).sum().alias(f"type-error:{name}"))
        if constraints.get("required"):
            checks.append(raw.is_null().sum().alias(f"required:{name}"))
        if "enum" in constraints:
            checks.append((~raw.is_in(constraints["enum"]) & raw.is_not_null()).sum().alias(f"enum:{name}"))
        if "pattern" in constraints:
            anchored = f"^(?:{constraints['pattern']})$"
            checks.append((~raw.str.contains(anchored) & raw.is_not_null()).sum().alias(f"pattern:{name}"))
        if "minimum" in constraints:
            checks.append((value < constraints["minimum"]).sum().alias(f"minimum:{name}"))
        if "maximum" in constraints:
            checks.append((value > constraints["maximum"]).sum().alias(f"maximum:{name}"))
        if "minLength" in constraints:
            checks.append((raw.str.len_chars() < constraints["minLength"]).sum().alias(f"minLength:{name}"))
        if "maxLength" in constraints:
            checks.append((raw.str.len_chars() > constraints["maxLength"]).sum().alias(f"maxLength:{name}"))
        if constraints.get("unique"):
            checks.append((raw.is_duplicated() & raw.is_not_null()).sum().alias(f"unique:{name}"))
    key = schema.get("primaryKey")
    key = [key] if isinstance(key, str) else key or []
    if key and set(key) <= set(frame.columns):
        checks.append(pl.struct(key).is_duplicated().sum().alias("primary-key"))
    if checks:
        for check, count in frame.select(checks).row(0, named=True).items():
            errors[check.split(":")[0]] += count
    return frame.select(typed_columns)


def check_foreign_keys(name: str, frames: dict[str, pl.DataFrame], schema: dict, errors: Counter) -> None:
    for key in schema.get("foreignKeys", []):
        own = [key["fields"]] if isinstance(key["fields"], str) else key["fields"]
        reference = key["reference"]
        theirs = [reference["fields"]] if isinstance(reference["fields"], str) else reference["fields"]
        target = frames.get(reference.get("resource") or name)
        if target is None:
            continue
        children = frames[name].select(own).drop_nulls()
        parents = target.select(theirs).unique().rename(dict(zip(theirs, own, strict=True)))
        errors["foreign-key"] += children.join(parents, on=own, how="anti").height


def main(package: Path) -> int:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    errors: Counter = Counter()
    frames, schemas = {}, {}
    for resource in descriptor["resources"]:
        schema = resource["schema"]
        if isinstance(schema, str):
            schema = json.loads((package / schema).read_text(encoding="utf-8"))
        schemas[resource["name"]] = schema
        frames[resource["name"]] = check_table(read(package, resource, schema), schema, errors)
    for name, schema in schemas.items():
        check_foreign_keys(name, frames, schema, errors)
    for check, count in sorted(errors.items()):
        if count:
            print(f"{check}: {count}")
    return 1 if sum(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
