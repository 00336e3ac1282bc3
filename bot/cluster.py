"""The production topology on one machine: `make cluster` / `make cluster-stop`, and the cluster tests.

    haproxy (deploy/haproxy.cfg, hash on the conversation id)
      -> Rasa replicas rasa-1 .. rasa-N (`python -m bot.server`, one Sanic worker each)
           conversations: PostgreSQL      locks: Redis      model: pulled from the model server
      -> one action server
    nginx: the model server, a folder with the live model (staff promotion swaps the file there;
    every replica pulls it within MODEL_PULL_SECONDS, ETag)

PostgreSQL and Redis are the machine's own (started by scripts/local_services.sh if they are
down); everything else is started here as child processes, restarted if one crashes (like
`make run`), and stopped together. The same processes run in containers with deploy/compose.yaml.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Optional, Tuple

from bot import PROJECT_ROOT
from bot.launcher import ServerFailed, Servers, answers, stop_on_signals
from bot.settings import RuntimeSettings, load_runtime_settings

HAPROXY_CONFIG = PROJECT_ROOT / "deploy" / "haproxy.cfg"
DEFAULT_RUN_DIR = PROJECT_ROOT / "var" / "cluster"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/clinic_cluster"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
MODEL_FILE = "facet-assistant.tar.gz"
READY_TIMEOUT_SECONDS = 300
# Longer than any message takes (the channels give up after 10 s), short enough that a patient
# whose replica died mid-message is answered again within ~20 s.
TICKET_LOCK_LIFETIME = "20"


@dataclass(frozen=True)
class ClusterLayout:
    """Where each process listens and what they share."""

    lb_port: int = 5080
    replica_ports: Tuple[int, ...] = (5101, 5102)
    action_port: int = 5155
    model_server_port: int = 5190
    run_dir: Path = DEFAULT_RUN_DIR
    postgres_url: str = DEFAULT_POSTGRES
    redis_url: str = DEFAULT_REDIS
    model_pull_seconds: int = 10

    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def replica_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[index]}"

    @property
    def models_dir(self) -> Path:
        return self.run_dir / "models"

    @property
    def live_model(self) -> Path:
        return self.models_dir / MODEL_FILE

    @property
    def model_server_url(self) -> str:
        return f"http://127.0.0.1:{self.model_server_port}/models/{MODEL_FILE}"


def layout_from_environment(environ: Optional[Dict[str, str]] = None) -> ClusterLayout:
    env = os.environ if environ is None else environ
    return ClusterLayout(
        lb_port=int(env.get("CLUSTER_PORT", "5080")),
        postgres_url=env.get("CLUSTER_POSTGRES_URL", DEFAULT_POSTGRES),
        redis_url=env.get("CLUSTER_REDIS_URL", DEFAULT_REDIS),
    )


class Cluster(Servers):
    """The cluster's processes; a context manager like Servers."""

    def __init__(self, layout: ClusterLayout, settings: Optional[RuntimeSettings] = None) -> None:
        base = settings or load_runtime_settings()
        super().__init__(
            replace(
                base,
                bot_host="127.0.0.1",
                action_host="127.0.0.1",
                action_port=layout.action_port,
                tracker_store_url=layout.postgres_url,
                lock_store_url=layout.redis_url,
                model_server_url=layout.model_server_url,
                model_pull_seconds=layout.model_pull_seconds,
            ),
            log_dir=layout.run_dir / "logs",
        )
        self.layout = layout
        self._seed_model = base.model_path

    @property
    def replica_names(self) -> Tuple[str, ...]:
        return tuple(f"rasa-{index + 1}" for index in range(len(self.layout.replica_ports)))

    def start(self) -> None:
        nginx, haproxy = (_installed(tool) for tool in ("nginx", "haproxy"))
        ensure_database(self.layout.postgres_url)
        self._publish_seed_model()
        self._spawn(
            "model-server", [nginx, "-p", str(self.layout.run_dir), "-c", str(self._nginx_config())], {}
        )
        self.start_action_server()
        for name, port in zip(self.replica_names, self.layout.replica_ports, strict=True):
            environment = {
                **self.environment(),
                "BOT_PORT": str(port),
                "MODEL_PATH": str(self.layout.live_model),
            }
            self._spawn(name, [sys.executable, "-m", "bot.server"], environment)
        self._spawn("lb", [haproxy, "-db", "-f", str(HAPROXY_CONFIG)], self._haproxy_environment())

    def environment(self) -> Dict[str, str]:
        return {
            **super().environment(),
            "DATABASE_URL": os.environ.get("DATABASE_URL") or self.layout.postgres_url,
            # The replicas sit behind one proxy: the client's address is in X-Forwarded-For.
            "SANIC_PROXIES_COUNT": "1",
            # Rasa's conversation lock outlives a replica that dies holding it: the conversation
            # waits this long (Rasa's default: 60 s) before the other replica may answer it.
            "TICKET_LOCK_LIFETIME": TICKET_LOCK_LIFETIME,
        }

    def ready_checks(self) -> Dict[str, str]:
        """Ready when the action server, every replica (its model loaded) and haproxy answer."""
        return {
            "actions": f"http://127.0.0.1:{self.layout.action_port}/health",
            **{name: f"{self.layout.replica_url(i)}/health" for i, name in enumerate(self.replica_names)},
            "lb": f"{self.layout.lb_url}/health",
        }

    def kill(self, name: str) -> None:
        """Kills one process the hard way (tests: a replica dying mid-load)."""
        self._processes[name].send_signal(signal.SIGKILL)
        self._processes[name].wait()

    # --- set-up ---------------------------------------------------------------------------------

    def _publish_seed_model(self) -> None:
        """The first model the model server offers: the trained one, unless staff already
        promoted another into the folder (kept across restarts)."""
        self.layout.models_dir.mkdir(parents=True, exist_ok=True)
        if not self.layout.live_model.exists():
            if not self._seed_model.exists():
                raise ServerFailed(f"No trained model at {self._seed_model}; run `make train` first.")
            partial = self.layout.live_model.with_name(MODEL_FILE + ".partial")
            shutil.copyfile(self._seed_model, partial)
            os.replace(partial, self.layout.live_model)

    def _nginx_config(self) -> Path:
        run_dir = self.layout.run_dir
        (run_dir / "nginx").mkdir(parents=True, exist_ok=True)
        config = run_dir / "nginx" / "model-server.conf"
        config.write_text(
            NGINX_MODEL_SERVER.format(port=self.layout.model_server_port, root=run_dir, logs=run_dir / "logs")
        )
        return config

    def _haproxy_environment(self) -> Dict[str, str]:
        replicas = {f"RASA_{i + 1}": f"127.0.0.1:{port}" for i, port in enumerate(self.layout.replica_ports)}
        return {"LB_BIND": f"127.0.0.1:{self.layout.lb_port}", **replicas}


# One process (no master: nothing to switch users for), loopback only, static files with
# nginx's own ETag and If-None-Match handling: Rasa's model-server protocol.
NGINX_MODEL_SERVER = """\
daemon off;
master_process off;
pid {root}/nginx/nginx.pid;
error_log {logs}/model-server-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/nginx/body;
    proxy_temp_path {root}/nginx/proxy;
    fastcgi_temp_path {root}/nginx/fastcgi;
    uwsgi_temp_path {root}/nginx/uwsgi;
    scgi_temp_path {root}/nginx/scgi;
    types {{ application/gzip gz; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /models/ {{ etag on; }}
        location / {{ return 404; }}
    }}
}}
"""


def ensure_database(url: str) -> None:
    """Creates the PostgreSQL database of `url` if it does not exist (the tracker store's tables
    are created by Rasa, the clinic's by bot/database.py)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def _installed(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if not path:
        raise ServerFailed(f"{tool} is not installed (Debian: apt-get install nginx-light haproxy).")
    return path


# --- `python -m bot cluster start|stop|run` ---------------------------------------------------------


def run_forever(layout: ClusterLayout) -> int:
    """The cluster in the foreground until SIGINT/SIGTERM (what `cluster start` detaches)."""
    cluster = Cluster(layout)
    stopping = stop_on_signals()
    try:
        cluster.start()
        seconds = cluster.wait_until_ready()
        print(f"The cluster is ready ({seconds:.0f} s): {layout.lb_url}/", flush=True)
        cluster.supervise_until(stopping)
        return 0
    except ServerFailed as failure:
        print(f"Could not start the cluster: {failure}", flush=True)
        return 1
    finally:
        cluster.stop()


def start_in_background(layout: ClusterLayout) -> int:
    """`make cluster`: starts the supervisor detached, waits until the cluster answers."""
    pid_file = layout.run_dir / "cluster.pid"
    if _running(pid_file):
        print(f"The cluster is already running (pid {pid_file.read_text().strip()}): {layout.lb_url}/")
        return 0
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    log = layout.run_dir / "cluster.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "cluster", "run"],
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=output,
            start_new_session=True,  # survives the terminal that ran `make cluster`
        )
    pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"The cluster did not start; see {log}.")
            return 1
        if answers(f"{layout.lb_url}/health") and "ready" in log.read_text(errors="replace"):
            print(
                f"The cluster is running: {layout.lb_url}/ (haproxy) -> "
                + ", ".join(f"127.0.0.1:{port}" for port in layout.replica_ports)
                + f"; model server {layout.model_server_url}; logs in {layout.run_dir / 'logs'}.\n"
                "Stop it with `make cluster-stop`."
            )
            return 0
        time.sleep(1)
    print(f"The cluster was not ready after {READY_TIMEOUT_SECONDS} s; see {log}.")
    return 1


def stop_background(layout: ClusterLayout) -> int:
    pid_file = layout.run_dir / "cluster.pid"
    if not _running(pid_file):
        print("The cluster is not running.")
        pid_file.unlink(missing_ok=True)
        return 0
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(60):
        if not _alive(pid):
            break
        time.sleep(0.5)
    pid_file.unlink(missing_ok=True)
    print("The cluster stopped.")
    return 0


def _running(pid_file: Path) -> bool:
    return pid_file.exists() and _alive(int(pid_file.read_text() or 0))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True
