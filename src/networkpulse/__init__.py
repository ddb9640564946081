"""networkpulse: streaming graph analysis at the pace of change.

The package tree is the pipeline: ``events`` → ``venturi`` → ``engine`` → ``store`` → ``serve``.
"""

__version__ = "0.1.0"
