"""docker-compose.yml, the Dockerfile and the systemd units: checked as data, since no Docker engine
runs here. Services and their wiring, every harvester command against the real CLI, and every
HARVESTER_* variable against .env.example and the Settings class."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from harvester.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
UNITS = sorted((REPO / "deploy" / "systemd").glob("*.service"))
VARIABLE = re.compile(r"\bHARVESTER_[A-Z0-9_]+\b")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")
HARVESTER_SERVICES = {"migrate", "api", "worker", "beat", "flower"}


def interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` -> default; ``${VAR:?message}`` / ``${VAR}`` -> a stand-in value."""
    return INTERPOLATION.sub(lambda m: m[2] if m[0].startswith(f"${{{m[1]}:-") else "value", text)


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def env_example_names() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^#?\s*(HARVESTER_[A-Z0-9_]+)=", text, flags=re.M))


def test_every_part_of_the_deployment_is_a_service(services):
    assert HARVESTER_SERVICES | {"redis", "postgres"} <= set(services)


@pytest.mark.parametrize("name", sorted(HARVESTER_SERVICES))
def test_each_harvester_service_runs_a_real_harvester_command(services, harvester_parses, name):
    service = services[name]
    command = [interpolate(str(part)) for part in service["command"]]
    assert command[0] == "harvester"
    harvester_parses(command[1:])
    assert service.get("build") == "." or service.get("image", "").startswith("harvester")


def test_the_commands_are_the_documented_processes(services):
    commands = {name: " ".join(services[name]["command"][:3]) for name in HARVESTER_SERVICES}
    assert commands["migrate"] == "harvester db upgrade"
    assert commands["api"] == "harvester api --host"
    assert services["api"]["command"][3] == "0.0.0.0"
    assert commands["worker"].startswith("harvester worker")
    assert commands["beat"] == "harvester beat"
    assert commands["flower"].startswith("harvester flower")


def test_migrations_run_once_before_the_processes_that_use_the_database(services):
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_api_is_health_checked_and_has_a_token_for_its_public_address(services):
    api = services["api"]
    assert "http://127.0.0.1:8000/health" in " ".join(api["healthcheck"]["test"])
    assert "HARVESTER_API_TOKEN" in api["environment"]
    assert {"redis", "postgres"} <= {name for name in services if "healthcheck" in services[name]}


def test_processes_share_one_broker_and_one_database(services):
    environments = [services[name]["environment"] for name in HARVESTER_SERVICES]
    assert len({env["HARVESTER_BROKER_URL"] for env in environments}) == 1
    assert len({env["HARVESTER_DATABASE_URL"] for env in environments}) == 1
    assert environments[0]["HARVESTER_BROKER_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in environments[0]["HARVESTER_DATABASE_URL"]


@pytest.mark.parametrize("path", [COMPOSE, DOCKERFILE, *UNITS], ids=lambda p: p.name)
def test_every_harvester_variable_is_in_env_example_and_is_a_setting(path):
    used = set(VARIABLE.findall(path.read_text()))
    documented = env_example_names()
    settings = {f"HARVESTER_{name.upper()}" for name in Settings.model_fields}
    assert used - documented == set(), f"{path.name} uses variables .env.example does not document"
    assert used - settings == set(), f"{path.name} uses variables that are no setting"


def test_the_dockerfile_copies_files_that_exist():
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            *sources, _target = line.split()[1:]
            for source in sources:
                assert (REPO / source).exists(), line


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_units_run_real_harvester_commands(unit, harvester_parses):
    starts = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    assert len(starts) == 1
    argv = shlex.split(starts[0].replace("%i", "harvester").replace("${FLOWER_BASIC_AUTH}", "user:pass"))
    assert argv[0].endswith("/harvester")
    harvester_parses(argv[1:])
    assert "EnvironmentFile=/etc/harvester/harvester.env" in unit.read_text()


def test_systemd_covers_every_process():
    names = {unit.name for unit in UNITS}
    assert {
        "harvester-api.service",
        "harvester-beat.service",
        "harvester-flower.service",
        "harvester-migrate.service",
        "harvester-worker@.service",
    } <= names


def test_compose_only_variables_are_explained_where_people_read():
    """Variables for Compose itself (not harvester settings) are named in the file's header and the guide."""
    text = COMPOSE.read_text()
    header = text.split("\nx-harvester", 1)[0]
    guide = (REPO / "docs" / "deployment.md").read_text()
    compose_only = {m[1] for m in INTERPOLATION.finditer(text)} - set(VARIABLE.findall(text))
    required = {m[1] for m in INTERPOLATION.finditer(text) if m[0].startswith(f"${{{m[1]}:?")}
    assert compose_only == {"POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"}
    for name in required:
        assert name in header, f"docker-compose.yml's header does not say to set {name}"
        assert name in guide, f"docs/deployment.md does not say to set {name}"
