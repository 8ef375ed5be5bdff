"""Destination files made safely: atomic placement, temporaries, locks, names."""
