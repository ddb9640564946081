"""Stage 2, firehose: replay a source at a fixed pace, optionally looping with shifted time."""

from networkpulse.firehose.replay import Pacer, replay

__all__ = ["Pacer", "replay"]
