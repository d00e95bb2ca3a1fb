"""`serve`: the trained model behind a page to draw digits on and a JSON API (the ``[serve]`` extra)."""

from mnist_lit.errors import MnistLitError

try:
    import fastapi  # noqa: F401
    import python_multipart  # noqa: F401  (FastAPI's parser of file uploads)
    import uvicorn  # noqa: F401
except ImportError as err:
    raise MnistLitError(
        f"`serve` needs FastAPI, python-multipart and uvicorn, and {err.name} is not installed. Install the serve "
        'extra: pip install -e ".[serve]" (in a clone) or pip install "mnist_lit[serve]".'
    ) from err

from mnist_lit.serve.app import Limits, create_app, serve_model

__all__ = ["Limits", "create_app", "serve_model"]
