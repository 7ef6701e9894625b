"""The web app (FastAPI): JSON API and pages. ``pacer serve`` runs it with uvicorn."""

from pacer.web.app import create_app
from pacer.web.inputs import MAX_BODY_BYTES

__all__ = ["MAX_BODY_BYTES", "create_app"]
