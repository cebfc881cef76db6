"""Build hook: the wheel carries the data package of its version (uslatam/_package/)."""

import json
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, str(Path(__file__).parent / "src"))
from uslatam.paths import PACKAGE_FILES, PACKAGE_FOLDERS  # noqa: E402


class BuildWithData(build_py):
    def run(self):
        super().run()
        root = Path(__file__).parent
        target = Path(self.build_lib) / "uslatam" / "_package"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name in PACKAGE_FILES:
            shutil.copy2(root / name, target / name)
        for folder in PACKAGE_FOLDERS:
            shutil.copytree(root / folder, target / folder)


# The data's version, owned by datapackage.json, is the distribution's version too.
VERSION = json.loads((Path(__file__).parent / "datapackage.json").read_text(encoding="utf-8"))["version"]

setup(version=VERSION, cmdclass={"build_py": BuildWithData})
