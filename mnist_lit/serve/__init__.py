"""`serve`: the trained model behind a page to draw digits on and a JSON API (the ``[serve]`` extra).

``python -m mnist_lit serve --config C --ckpt_path last`` serves a checkpoint; ``python -m mnist_lit.serve
model.onnx`` serves an exported model without torch.
"""

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes
from mnist_lit.serve.settings import DEFAULT_HOST, DEFAULT_PORT, Limits

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Limits", "create_app", "serve_model"]
__getattr__, __dir__ = lazy_attributes(
    __name__, {"create_app": "mnist_lit.serve.app", "serve_model": "mnist_lit.serve.app"}
)

if TYPE_CHECKING:
    from mnist_lit.serve.app import create_app, serve_model
