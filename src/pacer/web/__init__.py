"""The web app (FastAPI): JSON API and pages. ``pacer serve`` runs it with uvicorn."""

from pacer.web.app import MAX_BODY_BYTES, create_app

__all__ = ["MAX_BODY_BYTES", "create_app"]
