"""Serve the JupyterLab application built by scripts/build-jupyterlab.mjs with Debian's jupyter_server and
jupyterlab_server (python3-jupyterlab-server), the way the `jupyterlab` Python package's LabApp
does (jupyterlab/labapp.py): a LabServerApp whose templates and static files are APP_DIR/static
(index.html is the html-webpack-plugin output with Jinja placeholders), settings schemas in
APP_DIR/schemas, themes in APP_DIR/themes, and prebuilt (federated) extensions found in the
labextensions directories and handed to the page as page_config.federated_extensions.

Usage:
  /usr/bin/python3 serve-lab.py --app-dir APP_DIR --jupyter-path PREFIX/share/jupyter --root-dir NOTEBOOKS \
      [--port 8890] [--state-dir DIR] [--disable PLUGIN_ID ...]   (the token in $JLAB_TOKEN)
--jupyter-path is prepended to JUPYTER_PATH (kernelspecs from DIR/kernels, labextensions from
DIR/labextensions). Listens on 127.0.0.1 only. Prints "JLAB_URL=<url>" as it starts (the tests'
fixture, test/jupyterlab/lab-server.ts, then waits for /api/status). --disable adds plugin ids to
page_config.disabledExtensions. Debian 12: jupyter-server 1.23, python3-jupyterlab-server 2.16.
"""

import argparse
import json
import os
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--app-dir", required=True)
parser.add_argument("--jupyter-path", action="append", default=[])
parser.add_argument("--root-dir", required=True)
parser.add_argument("--port", type=int, default=8890)
parser.add_argument("--token", default=os.environ.get("JLAB_TOKEN", ""))
parser.add_argument("--state-dir", default="")
parser.add_argument("--disable", action="append", default=[])
args, server_args = parser.parse_known_args()

APP_DIR = os.path.abspath(args.app_dir)
STATE_DIR = os.path.abspath(args.state_dir or tempfile.mkdtemp(prefix="jlab-state-"))
# Only what this script is told: no ~/.jupyter config, no user data dir, no config files on disk.
os.environ["JUPYTER_NO_CONFIG"] = "1"
os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(STATE_DIR, "config")
os.environ["JUPYTER_DATA_DIR"] = os.path.join(STATE_DIR, "data")
os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(STATE_DIR, "runtime")
jupyter_path = [os.path.abspath(p) for p in args.jupyter_path]
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    jupyter_path + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
)

from jupyter_server import version_info as jpserver_version_info  # noqa: E402
from jupyterlab_server import LabServerApp  # noqa: E402
from jupyterlab_server.server import url_path_join as ujoin  # noqa: E402

with open(os.path.join(APP_DIR, "static", "package.json"), encoding="utf-8") as fid:
    APP_VERSION = json.load(fid)["version"]


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": RingbookLabApp}]


class RingbookLabApp(LabServerApp):
    name = "lab"  # static files under /static/lab/, as JupyterLab's LabApp
    extension_url = "/lab"
    default_url = "/lab"
    load_other_extensions = False
    app_name = "JupyterLab"
    app_version = APP_VERSION
    app_settings_dir = os.path.join(APP_DIR, "settings")
    schemas_dir = os.path.join(APP_DIR, "schemas")
    static_dir = os.path.join(APP_DIR, "static")
    templates_dir = os.path.join(APP_DIR, "static")
    themes_dir = os.path.join(APP_DIR, "themes")
    user_settings_dir = os.path.join(STATE_DIR, "user-settings")
    workspaces_dir = os.path.join(STATE_DIR, "workspaces")
    labextensions_path = [os.path.join(p, "labextensions") for p in jupyter_path]
    cache_files = False

    def initialize_handlers(self):
        # What labapp.py's LabApp.initialize_handlers puts in the page config (no build, no
        # extension manager, no news: those handlers live in the jupyterlab Python package).
        page_config = self.serverapp.web_app.settings.setdefault("page_config_data", {})
        page_config["buildAvailable"] = False
        page_config["buildCheck"] = False
        page_config["devMode"] = False
        page_config["token"] = self.serverapp.token
        page_config["exposeAppInBrowser"] = True
        page_config["quitButton"] = self.serverapp.quit_button
        page_config["allow_hidden_files"] = self.serverapp.contents_manager.allow_hidden
        page_config["notebookVersion"] = json.dumps(jpserver_version_info)
        page_config["news"] = {"disabled": True}
        if args.disable:
            # After jupyterlab_server merged labconfig and the extensions' own disabledExtensions.
            def disable(handler, config):
                config["disabledExtensions"] = sorted(set(config.get("disabledExtensions", [])) | set(args.disable))
                return config

            self.serverapp.web_app.settings["page_config_hook"] = disable
        self.serverapp.web_app.settings["terminals_available"] = False
        super().initialize_handlers()


if __name__ == "__main__":
    for d in ("config", "data", "runtime", "user-settings", "workspaces"):
        os.makedirs(os.path.join(STATE_DIR, d), exist_ok=True)
    url = f"http://127.0.0.1:{args.port}/lab?token={args.token}"
    print(f"JLAB_URL={url}", flush=True)
    RingbookLabApp.launch_instance(
        argv=[
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={args.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.token={args.token}",
            f"--ServerApp.root_dir={os.path.abspath(args.root_dir)}",
            "--ServerApp.terminals_enabled=False",
        ]
        + (["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])
        + server_args
    )
