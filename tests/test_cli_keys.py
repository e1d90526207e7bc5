"""``unionbot keys export``: the public key for partner units, never the private one."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.test_cli import unionbot


def test_keys_export_prints_the_public_key_made_on_first_use(tmp_path: Path) -> None:
    keys = tmp_path / "secret-keys"
    env = {"UNIONBOT_KEY_DIR": str(keys)}
    first = unionbot("keys", "export", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr.decode()
    pem = first.stdout.decode()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in pem
    assert isinstance(serialization.load_pem_public_key(pem.encode()), Ed25519PublicKey)
    assert "PRIVATE" not in first.stderr.decode()
    assert unionbot("keys", "export", cwd=tmp_path, env=env).stdout.decode() == pem
    assert (keys / "model_worker_ed25519.pem").stat().st_mode & 0o077 == 0


def test_keys_help() -> None:
    result = unionbot("keys", "--help")
    assert result.returncode == 0 and b"export" in result.stdout
