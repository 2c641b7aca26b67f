"""Numbers for people, shared by the model card, `hubtools compare`, the publish plan and the Hub's pages."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """61.5 -> "1 min 2 s"; 3725 -> "1 h 2 min"; None -> "–"."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def format_parameters(count: int | None) -> str:
    if count is None:
        return "–"
    return f"{count / 1e6:.1f}M" if count < 1e9 else f"{count / 1e9:.2f}B"


def format_gain(gain: float | None) -> str:
    return "–" if gain is None else f"{gain * 100:+.1f}%"


def format_p(p_value: float) -> str:
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"


def format_p_clause(p_value: float) -> str:
    """The one way prose states a p-value (report and card): "p < 0.001" or "p = 0.074"."""
    text = format_p(p_value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_size(size: int | None) -> str:
    """Bytes in decimal units: 512 -> "512 B"; 1_234_567 -> "1.2 MB"; past 1000 GB still in GB; None -> "–"."""
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
