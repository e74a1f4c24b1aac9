# JupyterLab for tipdrift: offline by default (no news feed, no update check, no
# extension installs from the network). Used by `make lab` and the browser test.
from pathlib import Path

c = get_config()  # noqa: F821 (provided by Jupyter)
# Default settings (overrides.json): news and update notifications off, so the lab never
# asks whether to fetch news.
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab-settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
# The tracked notebooks are saved without outputs (tipdrift.labhooks): what a session
# shows stays out of git; "Save Notebook As" another name keeps the outputs.
from tipdrift.labhooks import strip_tracked_outputs  # noqa: E402

c.FileContentsManager.pre_save_hook = strip_tracked_outputs
