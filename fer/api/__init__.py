"""The REST API for a clinic's systems (``fer serve``): image analysis and recorded sessions.

``app`` (:func:`create_app`, the FastAPI application), ``auth`` (bearer tokens, who may see
what), ``analysis`` (``/v1/analyze``), ``sessions`` (``/v1/sessions``), ``schemas`` (the
response shapes of the OpenAPI document), ``errors`` (JSON errors, body size limit), ``head``
(``HEAD`` answered as ``GET``, without the body). Only :mod:`fer.cli` imports this package.
"""

from fer.api.app import create_app

__all__ = ["create_app"]
