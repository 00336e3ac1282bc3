"""deploy/: the Kubernetes manifests, compose.yaml, the haproxy and nginx configs and the Dockerfile.

Images cannot be built on the project's CI machines (no Docker engine), so these checks read the
files: schemas (kubernetes-validate, Kubernetes 1.28, strict), the wiring between the pieces, the
real `haproxy -c` / `nginx -t` on the configs, and the Dockerfile's instructions. No server runs.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from bot import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
K8S_DIR = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
HAPROXY_CFG = DEPLOY / "haproxy.cfg"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
KUBERNETES_VERSION = "1.28.0"

# Variables read by libraries rather than by our code.
THIRD_PARTY_VARIABLES = {
    "SQL_POOL_SIZE",  # Rasa's SQL tracker store pool (rasa/core/constants.py POSTGRESQL_POOL_SIZE)
    "SQL_MAX_OVERFLOW",  # ... and its overflow (POSTGRESQL_MAX_OVERFLOW)
    "SANIC_PROXIES_COUNT",  # Sanic reads SANIC_* as its config: the client address behind proxies
}
# The official postgres image's initialisation variables.
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


# ---------------------------------------------------------------- helpers


def k8s_documents() -> List[Tuple[str, dict]]:
    """(file name, document) for every non-empty YAML document in deploy/k8s/."""
    found = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((path.name, document))
    return found


def k8s_objects(kind: str) -> List[dict]:
    return [document for _, document in k8s_documents() if document["kind"] == kind]


def k8s_object(kind: str, name: str) -> dict:
    matches = [document for document in k8s_objects(kind) if document["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name!r} in deploy/k8s"
    return matches[0]


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def selects(selector: Dict[str, str], labels: Dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def container_port_matches(container: dict, port) -> bool:
    """A probe's or Service's port given by number or by name is one the container declares."""
    declared = container.get("ports", [])
    return any(port in (entry["containerPort"], entry.get("name")) for entry in declared)


def command_of(container: dict) -> str:
    return " ".join(container.get("command", []) + container.get("args", []))


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def compose_environment(service: dict) -> Dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):  # the KEY=value list form
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def interpolated(value: str) -> str:
    """A compose value with every ${VAR...} replaced by a dummy, as compose would fill it in."""
    return re.sub(r"\$\{[^}]*\}", "dummy", value)


def compose_replicas(services: Dict[str, dict]) -> Dict[str, dict]:
    return {
        name: service for name, service in services.items() if "bot.server" in str(service.get("command"))
    }


def python_files() -> Iterator[Path]:
    for folder in ("bot", "actions"):
        yield from (PROJECT_ROOT / folder).rglob("*.py")


def app_environment_names() -> Set[str]:
    """Every variable name the app can read: upper-case string constants in modules that read the
    environment (os.environ / getenv, constants like SPOOL_DIR_ENV included), the ${VAR}s that
    endpoints.yml and credentials.yml expand, and THIRD_PARTY_VARIABLES."""
    names = set(THIRD_PARTY_VARIABLES)
    for path in python_files():
        source = path.read_text(encoding="utf-8")
        if "environ" not in source and "getenv" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value):
                names.add(node.value)
    for yml in ("endpoints.yml", "credentials.yml"):
        names.update(re.findall(r"\$\{([A-Z0-9_]+)\}", (PROJECT_ROOT / yml).read_text(encoding="utf-8")))
    return names


def haproxy_variables(config: str) -> Set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)\}", config))


def k8s_haproxy_config() -> str:
    return k8s_object("ConfigMap", "lb-config")["data"]["haproxy.cfg"]


def k8s_nginx_config() -> str:
    return k8s_object("ConfigMap", "model-server-config")["data"]["nginx.conf"]


def haproxy_section(config: str, header: str) -> str:
    """The lines of one section ("frontend patients"): its indented lines, up to the next line that
    starts at column 0 (another section, or a comment about the next one); trailing blanks cut."""
    lines = config.splitlines()
    start = lines.index(header)
    end = start + 1
    while end < len(lines) and (not lines[end] or lines[end][0].isspace()):
        end += 1
    return "\n".join(lines[start:end]).rstrip()


def installed_or_skip(tool: str, must_exist_on_ci: bool) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        if must_exist_on_ci and os.environ.get("CI"):
            pytest.fail(f"{tool} must be installed on CI (apt-get install {tool})")
        pytest.skip(f"{tool} is not installed here (apt-get install {tool})")
    return path


def dockerfile_instructions() -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_stages() -> List[List[Tuple[str, str]]]:
    stages: List[List[Tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, arguments))
    return stages


def copy_arguments(arguments: str) -> Tuple[Dict[str, str], List[str]]:
    """(flags, paths) of a COPY; the last path is the destination."""
    words = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    flags = dict(word[2:].partition("=")[::2] for word in words if word.startswith("--"))
    return flags, [word for word in words if not word.startswith("--")]


def dockerignore_patterns() -> List[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def dockerignored(path: str, patterns: List[str]) -> bool:
    parts = Path(path).parts
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns)


# ---------------------------------------------------------------- Kubernetes: schema


@pytest.mark.parametrize(
    "document",
    [document for _, document in k8s_documents()],
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in k8s_documents()],
)
def test_every_manifest_passes_the_strict_kubernetes_1_28_schema(document):
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True) == "1.28"


def test_the_schema_check_catches_a_misspelled_probe_field():
    broken = copy.deepcopy(k8s_object("Deployment", "rasa"))
    probe = pod_spec(broken)["containers"][0]["readinessProbe"]
    probe["httpGet"]["pathh"] = probe["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_manifests_hold_the_pieces_of_the_topology():
    deployments = {deployment["metadata"]["name"] for deployment in k8s_objects("Deployment")}
    assert deployments == {"rasa", "actions", "model-server", "lb"}
    assert k8s_object("Deployment", "rasa")["spec"]["replicas"] == 2
    assert {pdb["metadata"]["name"] for pdb in k8s_objects("PodDisruptionBudget")} == {"rasa", "actions"}
    assert k8s_object("PodDisruptionBudget", "rasa")["spec"]["minAvailable"] == 1
    assert k8s_object("Service", "rasa")["spec"]["clusterIP"] == "None"  # headless, for the lb's SRV
    assert len(k8s_objects("Namespace")) == 1
    namespace = k8s_objects("Namespace")[0]["metadata"]["name"]
    for _, document in k8s_documents():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace, document["metadata"]["name"]


# ---------------------------------------------------------------- Kubernetes: wiring


def health_route_is_served(container: dict) -> bool:
    """Whether the program in this container really answers GET /health."""
    command, image = command_of(container), container["image"]
    if "bot.server" in command:
        return 'add_route(health, "/health"' in (PROJECT_ROOT / "bot" / "server.py").read_text()
    if "bot.action_server" in command:
        # rasa-sdk's route; our token check lets /health through.
        sdk = Path(importlib.util.find_spec("rasa_sdk").origin).parent / "endpoint.py"
        exempt = 'request.path == "/health"' in (PROJECT_ROOT / "bot" / "action_server.py").read_text()
        return '@app.get("/health")' in sdk.read_text() and exempt
    if image.startswith("nginx:"):
        return "location = /health" in k8s_nginx_config()
    if image.startswith("haproxy:"):
        return "monitor-uri /health" in k8s_haproxy_config()
    return False


@pytest.mark.parametrize("name", ["rasa", "actions", "model-server", "lb"])
def test_every_deployment_probes_a_real_health_route_on_its_own_port(name):
    containers = pod_spec(k8s_object("Deployment", name))["containers"]
    for container in containers:
        for kind in ("readinessProbe", "livenessProbe"):
            probe = container.get(kind)
            assert probe, f"{name}/{container['name']} has no {kind}"
            assert probe["httpGet"]["path"] == "/health"
            assert container_port_matches(container, probe["httpGet"]["port"]), probe
        assert health_route_is_served(container), f"{name}/{container['name']} serves no /health"


def test_the_replicas_liveness_waits_for_the_model_to_load():
    container = pod_spec(k8s_object("Deployment", "rasa"))["containers"][0]
    liveness = container["livenessProbe"]
    # ~30 s to load the model: a restart only after well over a minute without an answer.
    patience = liveness.get("initialDelaySeconds", 0) + liveness.get("periodSeconds", 10) * liveness.get(
        "failureThreshold", 3
    )
    assert liveness.get("initialDelaySeconds", 0) >= 30 and patience >= 90


def test_disruption_budgets_select_pods_a_deployment_labels():
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in k8s_objects("Deployment")]
    for budget in k8s_objects("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        assert any(selects(selector, labels) for labels in pod_labels), budget["metadata"]["name"]


def test_every_service_selects_pods_of_a_deployment_on_a_declared_port():
    deployments = k8s_objects("Deployment")
    for service in k8s_objects("Service"):
        chosen = [
            d
            for d in deployments
            if selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert chosen, f"Service {service['metadata']['name']} selects no Deployment's pods"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(
                container_port_matches(container, target)
                for deployment in chosen
                for container in pod_spec(deployment)["containers"]
            ), (service["metadata"]["name"], target)


def test_every_deployment_refers_to_objects_that_exist():
    config_maps = {c["metadata"]["name"] for c in k8s_objects("ConfigMap")}
    secrets = {s["metadata"]["name"] for s in k8s_objects("Secret")}
    claims = {c["metadata"]["name"] for c in k8s_objects("PersistentVolumeClaim")}
    for deployment in k8s_objects("Deployment"):
        spec = pod_spec(deployment)
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for container in spec.get("initContainers", []) + spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets


def test_the_models_volume_is_shared_by_the_replicas_the_seed_and_the_model_server():
    settings = k8s_object("ConfigMap", "clinic-settings")["data"]
    model_path = Path(settings["MODEL_PATH"])
    assert "ReadWriteMany" in k8s_object("PersistentVolumeClaim", "models")["spec"]["accessModes"]

    def mount_of(container: dict, spec: dict) -> Tuple[str, bool]:
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in spec["volumes"]
            if "persistentVolumeClaim" in v
        }
        mounts = [m for m in container["volumeMounts"] if claims.get(m["name"]) == "models"]
        assert len(mounts) == 1, container["name"]
        return mounts[0]["mountPath"], mounts[0].get("readOnly", False)

    rasa = pod_spec(k8s_object("Deployment", "rasa"))
    assert mount_of(rasa["containers"][0], rasa) == (str(model_path.parent), False)
    server = pod_spec(k8s_object("Deployment", "model-server"))
    [seed] = server["initContainers"]
    seed_path, _ = mount_of(seed, server)
    assert f"{seed_path}/{model_path.name}" in " ".join(seed["command"])
    served_at, _ = mount_of(server["containers"][0], server)
    assert served_at == "/usr/share/nginx/html/models"
    assert urlsplit(settings["MODEL_SERVER_URL"]).path == f"/models/{model_path.name}"


def test_the_booking_spool_survives_a_replaced_action_server():
    services = compose()["services"]
    spool = compose_environment(services["actions"])["BOOKING_SPOOL_DIR"]
    mounts = [volume.split(":")[1] for volume in services["actions"]["volumes"]]
    assert any(spool.startswith(f"{mount}/") for mount in mounts), spool
    spec = pod_spec(k8s_object("Deployment", "actions"))
    container = spec["containers"][0]
    spool = {variable["name"]: variable["value"] for variable in container["env"]}["BOOKING_SPOOL_DIR"]
    [mount] = [m for m in container["volumeMounts"] if spool.startswith(f"{m['mountPath']}/")]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    claim = k8s_object("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert "ReadWriteMany" in claim["spec"]["accessModes"]  # shared by every action server


def test_the_lb_finds_the_replicas_through_the_headless_service():
    service = k8s_object("Service", "rasa")
    port_name = service["spec"]["ports"][0]["name"]
    namespace = service["metadata"]["namespace"]
    template = re.search(
        r"^\s*server-template rasa \d+ (\S+) .*resolvers kubedns", k8s_haproxy_config(), re.M
    )
    assert template, "no server-template line"
    assert template.group(1) == f"_{port_name}._tcp.rasa.{namespace}.svc.cluster.local"


def test_every_k8s_setting_is_a_variable_the_app_reads():
    app_names = app_environment_names()
    names = set(k8s_object("ConfigMap", "clinic-settings")["data"])
    names |= set(k8s_object("Secret", "clinic-secrets")["stringData"])
    for deployment in k8s_objects("Deployment"):
        for container in pod_spec(deployment)["containers"]:
            env = {variable["name"] for variable in container.get("env", [])}
            if container["image"].startswith("haproxy:"):
                assert env <= haproxy_variables(k8s_haproxy_config())
            else:
                names |= env
    assert names - app_names == set()


def test_no_real_secret_is_committed():
    for key, value in k8s_object("Secret", "clinic-secrets")["stringData"].items():
        assert value == "" or "REPLACE-ME" in value, key


# ---------------------------------------------------------------- compose.yaml

COMPOSE_SERVICES = {"postgres", "redis", "model-seed", "model-server", "actions", "rasa-1", "rasa-2", "lb"}
APP_IMAGE_SERVICES = {"model-seed", "actions", "rasa-1", "rasa-2"}


def test_compose_has_the_services_of_the_topology():
    services = compose()["services"]
    assert set(services) == COMPOSE_SERVICES
    assert set(compose_replicas(services)) == {"rasa-1", "rasa-2"}
    assert services["model-seed"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert {services[name]["image"] for name in APP_IMAGE_SERVICES} == {services["model-seed"]["image"]}
    assert services["model-server"]["image"].startswith("nginx:1.27")
    assert services["lb"]["image"].startswith("haproxy:2.6")
    assert any(str(port).startswith("8080:") for port in services["lb"]["ports"])


def test_compose_replicas_share_one_environment_and_setup():
    replicas = list(compose_replicas(compose()["services"]).values())
    first = replicas[0]
    for other in replicas[1:]:
        assert compose_environment(other) == compose_environment(first)
        for key in ("image", "command", "volumes", "depends_on", "healthcheck"):
            assert other.get(key) == first.get(key), key
    # The anchor, not two copies that could drift apart.
    assert "*replica-environment" in COMPOSE.read_text(encoding="utf-8")


def test_compose_replicas_are_wired_to_the_shared_services():
    services = compose()["services"]
    env = compose_environment(services["rasa-1"])
    assert env["BOT_HOST"] == "0.0.0.0"
    assert env["ACTION_SERVER_URL"] == "http://actions:5055/webhook"
    assert urlsplit(interpolated(env["TRACKER_STORE_URL"])).hostname == "postgres"
    assert urlsplit(interpolated(env["DATABASE_URL"])).hostname == "postgres"
    assert urlsplit(env["LOCK_STORE_URL"]).hostname == "redis"
    assert urlsplit(env["MODEL_SERVER_URL"]).hostname == "model-server"
    assert env["MODEL_PULL_SECONDS"] == "10"
    actions = compose_environment(services["actions"])
    assert actions["ACTION_HOST"] == "0.0.0.0"
    assert actions["ACTION_SERVER_TOKEN"] == env["ACTION_SERVER_TOKEN"]
    lb = compose_environment(services["lb"])
    assert (lb["LB_BIND"], lb["RASA_1"], lb["RASA_2"]) == (":8080", "rasa-1:5005", "rasa-2:5005")
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["lb"]["volumes"]


def test_compose_secrets_come_from_the_environment():
    env = compose_environment(compose()["services"]["rasa-1"])
    for name in ("ACTION_SERVER_TOKEN", "RASA_API_SECRET", "METRICS_TOKEN", "TWILIO_AUTH_TOKEN"):
        assert env[name].startswith(f"${{{name}"), name
    assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"]


def test_compose_models_volume_is_shared_by_seed_replicas_and_model_server():
    services = compose()["services"]
    model_path = Path(compose_environment(services["rasa-1"])["MODEL_PATH"])
    for name in ("model-seed", "rasa-1", "rasa-2"):
        assert f"models:{model_path.parent}" in services[name]["volumes"], name
    assert "models:/usr/share/nginx/html/models:ro" in services["model-server"]["volumes"]
    assert f"{model_path.parent}/{model_path.name}" in " ".join(services["model-seed"]["command"])
    url = compose_environment(services["rasa-1"])["MODEL_SERVER_URL"]
    assert urlsplit(url).path == f"/models/{model_path.name}"
    assert (
        services["model-server"]["depends_on"]["model-seed"]["condition"] == "service_completed_successfully"
    )


def test_compose_uses_only_variable_names_something_reads():
    services = compose()["services"]
    app_names = app_environment_names()
    for name in APP_IMAGE_SERVICES:
        assert set(compose_environment(services[name])) - app_names == set(), name
    assert set(compose_environment(services["lb"])) <= haproxy_variables(HAPROXY_CFG.read_text())
    assert set(compose_environment(services["postgres"])) <= POSTGRES_IMAGE_VARIABLES


def test_compose_services_have_healthchecks_and_wait_on_conditions():
    services = compose()["services"]
    for name in ("postgres", "redis", "model-server", "actions", "rasa-1", "rasa-2"):
        assert services[name]["healthcheck"]["test"], name
    assert "5005/health" in " ".join(services["rasa-1"]["healthcheck"]["test"])
    assert "5055/health" in " ".join(services["actions"]["healthcheck"]["test"])
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert condition["condition"] in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            )


# ---------------------------------------------------------------- haproxy and nginx


def test_the_k8s_lb_has_the_same_frontend_as_deploy_haproxy_cfg():
    header = "frontend patients"
    assert haproxy_section(k8s_haproxy_config(), header) == haproxy_section(HAPROXY_CFG.read_text(), header)


@pytest.mark.parametrize("header", ["global", "defaults", "backend replicas"])
def test_the_k8s_lb_differs_from_haproxy_cfg_only_in_how_it_finds_the_replicas(header):
    def without_servers(config: str) -> List[str]:
        section = haproxy_section(config, header).splitlines()
        return [line for line in section if not line.strip().startswith(("server ", "server-template "))]

    assert without_servers(k8s_haproxy_config()) == without_servers(HAPROXY_CFG.read_text())


@pytest.mark.parametrize("which", ["deploy/haproxy.cfg", "k8s ConfigMap lb-config"])
def test_haproxy_accepts_the_config(which, tmp_path):
    haproxy = installed_or_skip("haproxy", must_exist_on_ci=True)
    if which == "deploy/haproxy.cfg":
        config = HAPROXY_CFG
    else:
        config = tmp_path / "haproxy.cfg"
        config.write_text(k8s_haproxy_config(), encoding="utf-8")
    dummies = {"LB_BIND": "127.0.0.1:8080", "RASA_1": "127.0.0.1:5101", "RASA_2": "127.0.0.1:5102"}
    result = subprocess.run(
        [haproxy, "-c", "-f", str(config)],
        env={**os.environ, **dummies},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_model_server_config_is_one_file_in_compose_and_k8s():
    assert compose()["configs"]["model-server-nginx"]["content"] == k8s_nginx_config()


def test_nginx_accepts_the_model_server_config(tmp_path):
    nginx = installed_or_skip("nginx", must_exist_on_ci=False)
    # nginx -t creates the temp folders: keep them in tmp_path, not the machine's /tmp.
    config = tmp_path / "nginx.conf"
    config.write_text(k8s_nginx_config().replace("/tmp/", f"{tmp_path}/"), encoding="utf-8")
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- Dockerfile


def test_every_copy_source_exists_and_is_in_the_build_context():
    patterns = dockerignore_patterns()
    sources = []
    for keyword, arguments in dockerfile_instructions():
        if keyword in ("COPY", "ADD"):
            flags, paths = copy_arguments(arguments)
            if "from" not in flags:
                sources.extend(paths[:-1])
    assert sources
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not dockerignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_local_builds_and_secrets_out():
    patterns = dockerignore_patterns()
    for path in (".venv", "var", "models", "build", "widget/node_modules", "widget/dist", ".git", ".env"):
        assert dockerignored(path, patterns), path
    assert dockerignored("bot/nlu/__pycache__", patterns)


def test_the_final_stage_runs_as_a_non_root_user():
    final = dockerfile_stages()[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the runtime stage sets no USER (it would run as root)"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_model_is_trained_in_a_build_stage_and_copied_into_the_runtime():
    stages = dockerfile_stages()
    build_stages = stages[:-1]
    trained_in = [
        stage[0][1].split()[-1]
        for stage in build_stages
        if any(keyword == "RUN" and "rasa train" in arguments for keyword, arguments in stage)
    ]
    assert trained_in, "no `rasa train` RUN line before the final FROM"
    final = stages[-1]
    assert not any(keyword == "RUN" and "rasa train" in arguments for keyword, arguments in final)
    copies = [copy_arguments(arguments) for keyword, arguments in final if keyword == "COPY"]
    assert any(flags.get("from") in trained_in and "models" in paths[0] for flags, paths in copies)


def test_the_runtime_stage_serves_the_bot_with_telemetry_off_and_a_healthcheck():
    final = dockerfile_stages()[-1]
    text = "\n".join(f"{keyword} {arguments}" for keyword, arguments in final)
    assert final[0][1].startswith("python:3.10-slim-bookworm")
    assert "RASA_TELEMETRY_ENABLED=false" in text and "PYTHONPATH=/app" in text
    assert re.search(r"^EXPOSE 5005 5055$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*/health", text, re.M)
    assert json.loads(dict(final)["CMD"]) == ["python", "-m", "bot.server"]


def test_only_the_load_balancer_is_reachable_from_outside():
    """The model server (a model holds its training examples), the replicas (their /metrics) and the
    action server stay on the private network: only the lb publishes a port or has a non-ClusterIP
    Service."""
    published = {name for name, service in compose()["services"].items() if service.get("ports")}
    assert published == {"lb"}
    exposed = {
        service["metadata"]["name"]
        for service in k8s_objects("Service")
        if service["spec"].get("type", "ClusterIP") != "ClusterIP"
    }
    assert exposed <= {"lb"}
    assert not k8s_objects("Ingress")
