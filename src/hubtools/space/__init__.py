"""The demo Space: `render` writes one model's Space from the template; `run` runs a Gradio Space on 127.0.0.1.

The two share nothing but this package: the renderer never runs an app, the runner never reads a training run.
"""

from hubtools.space.render import (
    DEFAULT_HARDWARE,
    Example,
    SpaceSpec,
    check_hardware,
    render_space,
    shorten,
    spec_for_run,
)
from hubtools.space.run import ChildLauncher, Launcher, LocalSpace, app_settings, download_space, gradio_app_file, run_space, stop_on_sigterm

__all__ = [
    "DEFAULT_HARDWARE", "ChildLauncher", "Example", "Launcher", "LocalSpace", "SpaceSpec", "app_settings", "check_hardware",
    "download_space", "gradio_app_file", "render_space", "run_space", "shorten", "spec_for_run", "stop_on_sigterm",
]
