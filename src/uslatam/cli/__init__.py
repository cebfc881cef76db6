"""The ``uslatam`` command: parses arguments and renders results; the library decides."""
