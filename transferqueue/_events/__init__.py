"""Job events: the blinker signals, their delivery thread, receivers and watch()."""
