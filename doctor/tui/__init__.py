"""The interactive TUI (Textual). Importing this package does not import Textual.

``app.DoctorApp`` consumes an ``EventSource`` (``source.LiveSource`` over a built ``doctor.runspec.RunSpec``)
or shows a saved report read-only. The commands that open it (``ame-doctor tui``, ``view``, ``demo``)
live in ``doctor.commands``; nothing here imports the CLI.
"""
