"""The SQLite file and the key folder are created private and refused, in one line, when
others may read them; the key folder is tied to its database, so another folder (a
relative ``UNIONBOT_KEY_DIR`` run from elsewhere) is refused and no new keys are made."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

from tests.test_cli import unionbot
from tests.test_startup import one_line

RELATIVE = {"UNIONBOT_KEY_DIR": "keys"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def export(url: str, where: Path) -> tuple[int, str]:
    where.mkdir(exist_ok=True)
    result = unionbot("keys", "export", url=url, cwd=where, env=RELATIVE)
    return result.returncode, result.stderr.decode()


def test_a_new_sqlite_file_is_created_private_and_refused_once_others_may_read_it(
    tmp_path: Path,
) -> None:
    database = tmp_path / "new.db"
    url = f"sqlite+aiosqlite:///{database}"
    done = unionbot("db", "upgrade", url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert mode(database) == 0o600
    database.chmod(0o644)
    refused = unionbot("db", "upgrade", url=url, cwd=tmp_path)
    assert refused.returncode == 2
    assert one_line(refused.stderr) == (
        f"unionbot: others may read the database file {database}: chmod 600 {database}"
    )


def test_keys_are_created_private_and_a_readable_one_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    assert export(database_url, tmp_path / "a") == (0, "")
    keys = tmp_path / "a" / "keys"
    assert mode(keys) == 0o700
    assert {p.name: mode(p) for p in keys.iterdir()} == {
        "folder-key.bin": 0o600,
        "model_worker_ed25519.pem": 0o600,
    }
    (keys / "model_worker_ed25519.pem").chmod(0o644)
    refused = unionbot("keys", "export", url=database_url, cwd=tmp_path / "a", env=RELATIVE)
    assert refused.returncode == 2 and refused.stdout == b""
    line = one_line(refused.stderr)
    assert "others may read" in line and f"chmod 600 {keys}/*" in line


def test_another_key_folder_is_refused_and_no_new_keys_are_made(
    database_url: str, tmp_path: Path
) -> None:
    assert export(database_url, tmp_path / "a") == (0, "")
    for command in (["keys", "export"], ["seed", "demo"], ["chat", "--as", "x"]):
        (tmp_path / "b").mkdir(exist_ok=True)
        refused = unionbot(*command, url=database_url, cwd=tmp_path / "b", env=RELATIVE)
        assert refused.returncode == 2
        line = one_line(refused.stderr)
        assert f"UNIONBOT_KEY_DIR={tmp_path / 'b' / 'keys'} is not this database's" in line
    assert not (tmp_path / "b" / "keys").exists()

    other = tmp_path / "other.db"
    assert export(f"sqlite+aiosqlite:///{other}", tmp_path / "c") == (0, "")
    shutil.rmtree(tmp_path / "b")
    shutil.copytree(tmp_path / "c", tmp_path / "b")
    swapped = unionbot("keys", "export", url=database_url, cwd=tmp_path / "b", env=RELATIVE)
    assert swapped.returncode == 2
    assert "holds key" in one_line(swapped.stderr) and "this database's folder" in str(
        swapped.stderr
    )
    absolute = {"UNIONBOT_KEY_DIR": str(tmp_path / "a" / "keys")}
    moved = unionbot("keys", "export", url=database_url, cwd=tmp_path / "b", env=absolute)
    assert moved.returncode == 0, moved.stderr.decode()


def test_a_key_the_database_uses_is_never_made_anew(database_url: str, tmp_path: Path) -> None:
    """The register's hashes need the pepper they were made with: once it is gone from the
    folder, commands are refused rather than hashing with a new one."""
    seeded = unionbot("seed", "demo", url=database_url, cwd=tmp_path, env=RELATIVE)
    assert seeded.returncode == 0, seeded.stderr.decode()
    pepper = tmp_path / "keys" / "id-pepper.bin"
    pepper.unlink()
    for command in (["keys", "export"], ["chat", "--as", "x"]):
        refused = unionbot(*command, url=database_url, cwd=tmp_path, env=RELATIVE)
        assert refused.returncode == 2
        line = one_line(refused.stderr)
        assert f"UNIONBOT_KEY_DIR={tmp_path / 'keys'} lacks id-pepper.bin" in line
        assert "unionbot restore" in line
    assert not pepper.exists()
