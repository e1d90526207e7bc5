"""The two SQL functions whose names differ between SQLite and PostgreSQL, for queries that
must do their work in the database (scoring 100,000 singles' profiles, say) on both.

- :class:`text_position` is ``instr(haystack, needle)`` on SQLite and ``strpos`` on
  PostgreSQL: 0 when the needle is not in the text, and unlike ``LIKE`` blind to ``%``
  and ``_`` in what members typed.
- :class:`json_elements` is the table of a JSON array's elements as text, column
  ``value``: ``json_each`` on SQLite, ``json_array_elements_text`` on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction


class text_position(GenericFunction[int]):
    type = Integer()
    inherit_cache = True


class json_elements(GenericFunction[str]):
    type = Text()
    inherit_cache = True


@compiles(text_position, "sqlite")
def _instr(element: text_position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(text_position, "postgresql")
def _strpos(element: text_position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(json_elements, "sqlite")
def _json_each(element: json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(json_elements, "postgresql")
def _json_array_elements(element: json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array_elements_text({compiler.process(element.clauses, **kw)})"
