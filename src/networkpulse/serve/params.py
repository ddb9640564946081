"""What every route module of the API shares: path and query parameters, the documented 4xx answers, 404s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query
from fastapi import Path as PathParam

from networkpulse.serve.models import MAX_ID, ErrorDetail

#: GitHub logins: letters, digits and hyphens; bots add ``[bot]``; very old accounts may hold ``_`` or ``.``.
LOGIN_PATTERN = r"^[A-Za-z0-9_.\[\]-]{1,100}$"

# Every route documents its 4xx body as ErrorDetail; declaring 422 here also stops FastAPI from advertising
# its default list-shaped validation error, which this app never sends.
ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorDetail, "description": "Invalid parameter."}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorDetail, "description": "Not found."},
}

WindowId = Annotated[int, PathParam(ge=0, le=MAX_ID, description="Window id.")]
Rank = Annotated[int, PathParam(ge=0, le=MAX_ID, description="0 = largest cluster of the window.")]
Login = Annotated[str, PathParam(pattern=LOGIN_PATTERN, description="GitHub login (case-insensitive).")]
MaxClusters = Annotated[int, Query(ge=0, le=1000, description="Clusters to include, largest first.")]


def found(value: Any, message: str) -> Any:
    """``value``, or a 404 with ``message`` (what is missing and why) when it is None. O(1)."""
    if value is None:
        raise HTTPException(status_code=404, detail=message)
    return value
