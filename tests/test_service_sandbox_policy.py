"""The service refuses to grade untrusted code without bubblewrap unless the operator accepts it."""

import subprocess
import sys

from service_fixtures import REPO, free_port


def _serve(tmp_path, extra_env: dict[str, str], *flags: str) -> subprocess.Popen:
    env = {"PATH": "/usr/bin:/bin", "TENSORGRADE_DISABLE_BWRAP": "1", **extra_env}
    return subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(free_port()),
                             "--data-dir", str(tmp_path / "data"), *flags],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_refuses_without_bubblewrap(tmp_path):
    process = _serve(tmp_path, {})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "refusing to start" in err and "apt-get install bubblewrap" in err


def test_serve_starts_with_weak_sandbox_when_allowed(tmp_path):
    process = _serve(tmp_path, {}, "--allow-weak-sandbox")
    try:
        line = process.stdout.readline()
        assert "tensorgrade service on http://" in line
    finally:
        process.kill()
        _, err = process.communicate(timeout=30)
    assert "WARNING: bubblewrap is not usable" in err
