"""Messages per second for the benefits look-ups and the model-worker code, on SQLite.

Run by hand: ``python bench/benefits.py [--messages 300]``. With the demo data loaded (22
units), it sends console lines through the whole core and reports, per kind of message:

- search: ``/benefits 医院`` (LIKE over names, addresses, cities, services and a category);
- nearest: a shared location (distances to every located unit, computed in Python);
- code: ``/code`` (an Ed25519 signature, a row, and a QR PNG written to disk);
- verify: ``/verify NUMBER`` by unit staff (signature check, revocation, a use recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import tempfile
import time
from pathlib import Path

from bot.channels.console import ConsoleChannel
from bot.settings import Settings
from storage.migrate import upgrade
from storage.model_worker_code import KEY_DIR
from storage.seed import demo_files, import_file
from unionbot.app import build_app


async def rate(console: ConsoleChannel, lines: list[str]) -> float:
    started = time.perf_counter()
    for line in lines:
        await console.handle_line(line)
    return len(lines) / (time.perf_counter() - started)


async def main(messages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = Settings(  # type: ignore[call-arg]
            database_url=f"sqlite+aiosqlite:///{root / 'bench.db'}",
            key_dir=root / "keys",
            media_dir=root / "media",
            _env_file=None,
        )
        KEY_DIR.set(settings.key_dir)
        app = build_app(settings)
        await upgrade(app.engine)
        async with app.sessions() as session, session.begin():
            for path in demo_files():
                await import_file(session, path)
        out = io.StringIO()
        console = ConsoleChannel(app.dispatcher, "laomo", out, json_mode=True)
        app.messenger.attach(console)
        for line in ("/claim", "王建明", "999999197805120013"):
            await console.handle_line(line)
        results = {
            "search": await rate(console, ["/benefits 医院"] * messages),
            "nearest": await rate(console, ['{"location": [28.02, 120.66]}'] * messages),
            "code": await rate(console, ["/code"] * messages),
        }
        out.seek(0)
        out.truncate()
        await console.handle_line("/code")
        number = re.findall(r"劳模码：(\d{10})", out.getvalue())[-1]
        verify = json.dumps({"as": "hospital", "text": f"/verify {number}"})
        results["verify"] = await rate(console, [verify] * messages)
        await app.close()
    for name, value in results.items():
        print(f"{name:8} {value:7.0f} msg/s")


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--messages", type=int, default=300)
    asyncio.run(main(arguments.parse_args().messages))
