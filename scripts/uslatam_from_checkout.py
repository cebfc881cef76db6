"""Run this checkout's own ``uslatam`` without installing it: the entry of the project's pre-commit hooks.

pre-commit builds the hooks' environment from their ``additional_dependencies`` (the runtime
dependencies, kept equal to pyproject.toml's by a test); the tool itself comes from ``src/``, so a
commit is checked by the tool of that same commit.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from uslatam.cli.app import main  # noqa: E402  (after the path is set)

if __name__ == "__main__":
    main()
