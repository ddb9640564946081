"""Stage 6, serve: the REST API and live feed over the window store, and the browser UI.

Public API: :func:`create_app` (an ASGI app for any server) and :func:`run` (blocking uvicorn run).
"""

from networkpulse.serve.app import create_app
from networkpulse.serve.server import ListenError, run

__all__ = ["ListenError", "create_app", "run"]
