"""us-latam-security-facts: the facts of news analysis of US–Latin America security policy.

``uslatam.validate(path)`` returns a :class:`~uslatam.report.Report`; nothing here prints.
Heavy imports (pandas, pandera, frictionless) wait until a function needs them.
"""

from __future__ import annotations

__all__ = [
    "validate",
    "locate",
    "load",
    "load_table",
    "quotes_view",
    "events_view",
    "statistics_view",
    "claims_view",
    "Report",
    "Finding",
]


def __getattr__(name: str):
    if name == "__version__":  # the installed distribution's, which setup.py takes from datapackage.json
        from importlib.metadata import version

        return version("us-latam-security-facts")
    if name == "validate":
        from .validate import validate

        return validate
    if name in ("load", "load_table", "quotes_view", "events_view", "statistics_view", "claims_view"):
        from . import loading  # not "load": importing it would rebind uslatam.load to the module

        return getattr(loading, name)
    if name == "locate":
        from .spans import locate

        return locate
    if name in ("Report", "Finding"):
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module 'uslatam' has no attribute {name!r}")
