"""MkDocs hook: pages generated from the code when the site is built (mkdocs.yml ``hooks``).

``<!-- albench:cli -->`` becomes the help of every ``albench`` command, straight from the
parser; ``<!-- albench:builtins -->`` the registry's tasks, strategies and support matrix.
"""

from __future__ import annotations

import argparse


def _cli() -> str:
    from albench.cli import build_parser

    parser = build_parser()
    parts = ["## albench\n", "```text", parser.format_help().rstrip(), "```\n"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        parts += [f"## albench {name}\n", "```text", command.format_help().rstrip(), "```\n"]
    return "\n".join(parts)


def _builtins() -> str:
    from albench import api

    out = ["## Tasks\n", "| task | summary |", "|---|---|"]
    out += [f"| `{name}` | {line} |" for name, line in api.list_tasks().items()]
    out += ["\n## Strategies\n", "| strategy | summary |", "|---|---|"]
    out += [f"| `{name}` | {line} |" for name, line in api.list_strategies().items()]
    matrix = api.support()
    strategies = list(next(iter(matrix.values())))
    out += [
        "\n## Which strategy runs on which task\n",
        "*yes*, or the capability the task lacks (the pair is refused before any run).\n",
        "| task | " + " | ".join(f"`{s}`" for s in strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for task, lacks in matrix.items():
        cells = ["yes" if not m else "no: " + ", ".join(m) for m in lacks.values()]
        out.append(f"| `{task}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, **_kwargs) -> str:
    if "<!-- albench:cli -->" in markdown:
        markdown = markdown.replace("<!-- albench:cli -->", _cli())
    if "<!-- albench:builtins -->" in markdown:
        markdown = markdown.replace("<!-- albench:builtins -->", _builtins())
    return markdown
