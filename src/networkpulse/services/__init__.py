"""The stages as services between Kafka topics (issue 6), one module per service:

- :mod:`~networkpulse.services.firehose`: GH Archive files → raw Avro events (N parallel producers, paced);
- :mod:`~networkpulse.services.venturi`: raw events → interaction batches, a consumer group, exactly once.

Each is a function over batches between two bus endpoints (:mod:`networkpulse.bus`); the ``pulse`` commands in
:mod:`networkpulse.cli_services` only parse flags and print summaries.
"""
