"""Pictures of digits, drawn on a bare matplotlib Figure (no pyplot state, no display needed)."""

from __future__ import annotations

from matplotlib.figure import Figure
from torch import Tensor


def plot_digits(images: Tensor, titles: list[str], columns: int = 5) -> Figure:
    """A grid of images, each with its title (the textbook's ``True: t, Pred: p``).

    ``images`` is ``[N, H, W]`` (grayscale digits) or ``[N, 3, H, W]`` (colour, shown as such).
    """
    rows = max(1, -(-len(images) // columns))
    fig = Figure(figsize=(2 * columns, 2.3 * rows))
    for position, (image, title) in enumerate(zip(images, titles), start=1):
        ax = fig.add_subplot(rows, columns, position)
        ax.imshow(image.permute(1, 2, 0).numpy() if image.ndim == 3 else image.numpy(), cmap="gray")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig
