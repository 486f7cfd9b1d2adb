"""Operators. Each is usable from the UI (modal, cancellable) and from scripts (synchronous)."""

from . import check_engine, copy_as_python

CLASSES = (check_engine.PROCDREAM_OT_check_engine, copy_as_python.PROCDREAM_OT_copy_as_python)


def shutdown():
    """Stop child processes the operators started, so disabling the add-on leaves none behind."""
    check_engine.kill_running()
