"""The pre-commit hooks: the project's own run the checkout's tool with pyproject's dependencies."""

import tomllib

import yaml

from .conftest import ROOT


def _hooks(name: str) -> list[dict]:
    config = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return config if isinstance(config, list) else [h for repo in config["repos"] for h in repo["hooks"]]


def test_project_hooks_install_exactly_the_runtime_dependencies() -> None:
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for hook in _hooks(".pre-commit-config.yaml"):
        assert hook["language"] == "python", hook["id"]
        assert hook["additional_dependencies"] == runtime, hook["id"]
        assert (ROOT / hook["entry"].split()[1]).is_file(), hook["entry"]


def test_reusable_hooks_validate_without_quiet() -> None:
    hooks = {hook["id"]: hook for hook in _hooks(".pre-commit-hooks.yaml")}
    assert hooks["uslatam-validate"]["entry"] == "uslatam validate"  # the report says why a commit is blocked
    assert all(hook["language"] == "python" for hook in hooks.values())
