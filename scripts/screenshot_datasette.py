"""Screenshot of Datasette's quotes view, for the README: export, serve on 127.0.0.1, shoot with Chromium.

Usage: python scripts/screenshot_datasette.py [OUTPUT.png]   (default docs/figures/datasette-quotes-view.png)

Needs the test extra (datasette) and a headless Chromium on PATH as ``chromium`` (Debian: apt-get install
chromium). Every network feature of Chromium that would reach outside the machine is turned off.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEW = "quotes_view?_col=speaker&_col=office_as_stated&_col=quote_type&_col=words&_col=attribution&_size=8"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(output: Path) -> int:
    from uslatam.export import export

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        database, metadata = export("sqlite", Path(work) / "facts.db", ROOT)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "datasette",
                "serve",
                str(database),
                "-m",
                str(metadata),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    urllib.request.urlopen(f"{base}/-/versions.json", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            output.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    browser,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={work}/chromium",
                    f"--screenshot={output.resolve()}",
                    f"{base}/{database.stem}/{VIEW}",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=120,
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "figures" / "datasette-quotes-view.png"))
