"""Living within a messaging platform's size limits: splitting long texts.

Nothing here imports a platform SDK, so any channel can use it. Pacing is
:mod:`bot.pacing`, shared with the broadcast sender.
"""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` characters, at line ends where it
    can; a single longer line is cut where the limit falls. Never returns an empty part."""
    if not text:
        return ["…"]
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    return [chunk.rstrip("\n") or "…" for chunk in chunks]
