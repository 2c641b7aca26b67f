"""The report's figures: the confusion matrix and the reliability diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hubtools.plotting import drawable, pyplot


def plot_confusion_matrix(matrix: list[list[int]], label_names: list[str], path: Path) -> None:
    """Two panels: counts and row-normalised (recall per true class), with labelled axes and values."""
    plt = pyplot()
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    tick_labels = [drawable(name) for name in label_names]
    size = max(4.0, 0.9 * len(label_names) + 2)
    figure, axes = plt.subplots(1, 2, figsize=(2 * size + 1, size), constrained_layout=True)
    for axis, values, title, fmt in ((axes[0], counts, "Counts", "{:.0f}"), (axes[1], normalised, "Row-normalised", "{:.2f}")):
        image = axis.imshow(values, cmap="Blues", vmin=0)
        axis.set(
            title=title, xlabel="Predicted label", ylabel="True label",
            xticks=range(len(label_names)), yticks=range(len(label_names)),
            xticklabels=tick_labels, yticklabels=tick_labels,
        )
        axis.tick_params(axis="x", labelrotation=45)
        threshold = values.max() / 2 if values.max() > 0 else 1
        for (row, column), value in np.ndenumerate(values):
            axis.text(column, row, fmt.format(value), ha="center", va="center", color="white" if value > threshold else "black")
        figure.colorbar(image, ax=axis, shrink=0.8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_reliability(bins: list[dict[str, float]], ece: float, path: Path) -> None:
    """Reliability diagram: accuracy per confidence bin against the diagonal, with rows per bin below."""
    plt = pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, height_ratios=(3, 1), constrained_layout=True)
    centres = [(row["low"] + row["high"]) / 2 for row in bins]
    width = bins[0]["high"] - bins[0]["low"]
    filled = [row for row in bins if row["rows"]]
    top.bar([(row["low"] + row["high"]) / 2 for row in filled], [row["accuracy"] for row in filled], width=width * 0.9, label="accuracy")
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    top.set(ylabel="Accuracy", ylim=(0, 1), title=f"Reliability diagram (ECE {ece:.3f})")
    top.legend(loc="upper left")
    bottom.bar(centres, [row["rows"] for row in bins], width=width * 0.9, color="grey")
    bottom.set(xlabel="Confidence of the predicted label", ylabel="Rows", xlim=(0, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
