"""``loam completion bash|zsh``: a shell completion script drawn from the parser itself.

The script holds, for every command path (``"loam"``, ``"loam functions"``,
``"loam functions get"``, ...), the words that may follow it (sub-commands and
options) and, for options and positionals with fixed choices, those choices;
a word that is neither completes as a file name (``loam deploy ./src``).
zsh runs the same script through ``bashcompinit``.

Install: ``eval "$(loam completion bash)"`` in ``~/.bashrc`` (or ``zsh`` in
``~/.zshrc``).
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator

__all__ = ["command_words", "register", "script"]

_FUNCTION = """\
_loam_complete() {
    local cur prev path word i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    path="loam"
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if [[ " ${_loam_commands[$path]} " == *" $word "* ]]; then
            path="$path $word"
        fi
    done
    if [[ -n "${_loam_choices[$path $prev]+set}" ]]; then
        COMPREPLY=($(compgen -W "${_loam_choices[$path $prev]}" -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "${_loam_options[$path]}" -- "$cur"))
    elif [[ -n "${_loam_commands[$path]}" ]]; then
        COMPREPLY=($(compgen -W "${_loam_commands[$path]}" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o default -F _loam_complete loam
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh"])


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_words(parser: argparse.ArgumentParser, path: str = "loam") -> Iterator[
        tuple[str, list[str], list[str], dict[str, list[str]]]]:
    """``(path, sub-commands, options, choices by option)`` for every command path."""
    children = _subparsers(parser)
    options: list[str] = []
    choices: dict[str, list[str]] = {}
    positional: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if action.option_strings:
            options.extend(o for o in action.option_strings if o.startswith("--"))
            if action.choices:
                for option in action.option_strings:
                    choices[option] = [str(c) for c in action.choices]
        elif action.choices:
            positional.extend(str(c) for c in action.choices)
    yield path, sorted(children) or positional, sorted(options), choices
    for name, child in sorted(children.items()):
        yield from command_words(child, f"{path} {name}")


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (``bash`` or ``zsh``)."""
    lines = []
    if shell == "zsh":
        lines.append("autoload -U +X bashcompinit && bashcompinit")
    lines += ["declare -gA _loam_commands _loam_options _loam_choices"]
    for path, commands, options, choices in command_words(parser):
        key = shlex.quote(path)
        lines.append(f"_loam_commands[{key}]={shlex.quote(' '.join(commands))}")
        lines.append(f"_loam_options[{key}]={shlex.quote(' '.join(options))}")
        for option, values in sorted(choices.items()):
            choice_key = shlex.quote(f"{path} {option}")
            lines.append(f"_loam_choices[{choice_key}]={shlex.quote(' '.join(values))}")
    return "\n".join(lines) + "\n" + _FUNCTION
