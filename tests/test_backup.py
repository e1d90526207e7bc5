"""``unionbot backup`` and ``restore``: after losing the database and the key folder, the
restored bot still verifies a model-worker code it signed before and still knows the
members, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import stat
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bot.app import App
from bot.settings import Settings
from tests.conftest import Chat
from tests.handlers.test_model_workers import claim, get_code, load_demo
from tests.test_cli import unionbot
from unionbot.app import build_app


def fresh_target(database_url: str, tmp_path: Path) -> str:
    """An empty database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'unionbot.db'}"
    url = make_url(database_url)
    name = f"unionbot_restore_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        parsed = make_url(url)
        admin = parsed.set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'DROP DATABASE "{parsed.database}" WITH (FORCE)')


async def test_a_restored_backup_verifies_old_codes_and_keeps_members(
    app: App, settings: Settings, tmp_path: Path
) -> None:
    await load_demo(app)
    laomo = Chat(app, "laomo")
    assert "认证成功" in await claim(laomo)
    number, _image = await get_code(laomo)
    keys = {"UNIONBOT_KEY_DIR": str(settings.key_dir)}

    made = await asyncio.to_thread(
        unionbot, "backup", str(tmp_path / "copy"), url=settings.database_url, env=keys
    )
    assert made.returncode == 0, made.stderr.decode()
    assert "model_worker_ed25519.pem" in made.stdout.decode()
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o700
    await app.close()
    shutil.rmtree(settings.key_dir)

    target = fresh_target(settings.database_url, tmp_path)
    new_keys = {"UNIONBOT_KEY_DIR": str(tmp_path / "new-keys")}
    try:
        put_back = await asyncio.to_thread(
            unionbot, "restore", str(tmp_path / "copy"), url=target, env=new_keys
        )
        assert put_back.returncode == 0, put_back.stderr.decode()
        restored = build_app(
            settings.model_copy(update={"database_url": target, "key_dir": tmp_path / "new-keys"})
        )
        try:
            staff = Chat(restored, "hospital")
            verified = await staff.text_of(f"/verify {number}")
            assert "✅ 劳模码有效" in verified and "王*明" in verified
            status = await Chat(restored, "laomo").text_of({"press": "mw"})
            assert "市级劳模，温州" in status, "laomo is still a verified model worker"
        finally:
            await restored.close()
        again = await asyncio.to_thread(
            unionbot, "restore", str(tmp_path / "copy"), url=target, env=new_keys
        )
        assert again.returncode == 2 and b"--replace" in again.stderr
    finally:
        await asyncio.to_thread(drop, target)


def test_backup_refuses_a_folder_in_use_and_restore_a_non_backup(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    used = unionbot("backup", str(tmp_path / "full"), cwd=tmp_path)
    assert used.returncode == 2 and b"not an empty folder" in used.stderr
    nothing = unionbot("restore", str(tmp_path / "full"), cwd=tmp_path)
    assert nothing.returncode == 2 and b"not a unionbot backup" in nothing.stderr
