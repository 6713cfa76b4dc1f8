"""The production settings the README documents pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' (see tests/conftest.py), never a deployment's.
    unset = {"DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {key: value for key, value in os.environ.items() if key not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


def test_check_deploy_passes_with_the_documented_production_variables():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DATABASE_URL="postgres://beacon:secret@127.0.0.1:5432/beacon",
        REDIS_URL="redis://127.0.0.1:6379/0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="beacon.example.gov",
        CSRF_TRUSTED_ORIGINS="https://beacon.example.gov",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DATABASE_URL="postgres://beacon:secret@127.0.0.1:5432/beacon")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_demo_refuses_a_production_database_and_says_why():
    result = run_manage(
        "demo",
        DATABASE_URL="postgres://beacon:secret@127.0.0.1:5432/beacon",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode != 0
    assert "DEBUG is off" in result.stderr
    assert "--force" in result.stderr


def test_static_files_collect_for_production(tmp_path):
    # WhiteNoise's manifest storage refuses a file that names one it cannot find
    # (a vendored library's source map, say), and then production has no pages.
    result = run_manage(
        "collectstatic",
        "--no-input",
        DATABASE_URL="postgres://beacon:secret@127.0.0.1:5432/beacon",
        SECRET_KEY=secrets.token_urlsafe(50),
        STATIC_ROOT=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "js/dispatch-console.js" in manifest
    assert "vendor/leaflet/leaflet.js" in manifest
