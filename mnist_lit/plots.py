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


def plot_confusion(matrix: Tensor, class_names: list[str]) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted), each cell with its count."""
    size = max(5.0, 0.6 * len(class_names) + 2)
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot()
    ax.imshow(matrix.numpy(), cmap="Blues")
    ticks = list(range(len(class_names)))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    high = float(matrix.max()) if matrix.numel() else 0.0
    for (row, col), count in zip(((r, c) for r in ticks for c in ticks), matrix.flatten().tolist()):
        ax.text(col, row, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > high / 2 else "black")  # fmt: skip
    fig.tight_layout()
    return fig
