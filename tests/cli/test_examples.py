"""The example under each `fer COMMAND --help` works as printed: it parses, and `fer train`'s
examples can be run in a clone as they stand."""

import shlex

import pytest

from fer.cli import COMMANDS, command_parser
from fer.config import MODELS_DIR
from fer.training.model_folders import check_model_destinations


def _example_commands(name: str) -> list[list[str]]:
    """The words after `fer NAME` of each example line (a trailing backslash joins lines;
    environment assignments and a pipe's left side dropped)."""
    _, module = command_parser(name)
    commands = []
    for line in module.EXAMPLE.replace("\\\n", " ").strip().splitlines():
        words = shlex.split(line.split(" | ")[-1], comments=True)
        while words and "=" in words[0]:
            words.pop(0)
        assert words[:2] == ["fer", name], f"an example of `fer {name}` runs {line!r}"
        commands.append(words[2:])
    return commands


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_help_example_parses(name):
    parser, _ = command_parser(name)
    commands = _example_commands(name)
    assert commands, f"`fer {name} --help` shows no example"
    for words in commands:
        parser.parse_args(words)


def test_the_train_examples_can_be_run_as_printed():
    # An example that names a shipped model is refused before any work; one that resumes must
    # resume a run the other example starts, with its settings.
    parser, _ = command_parser("train")
    commands = _example_commands("train")
    for words in commands:
        args = parser.parse_args(words)
        names = args.names.split(",") if args.names else args.labels.split("+")
        check_model_destinations(MODELS_DIR, names, args.replace)
    started = [words for words in commands if "--resume" not in words]
    for words in commands:
        if "--resume" in words:
            assert [word for word in words if word != "--resume"] in started


def test_the_publish_examples_publish_no_copy_over_a_shipped_model():
    parser, _ = command_parser("publish")
    for words in _example_commands("publish"):
        new_name = parser.parse_args(words).logit_adjust
        if new_name:
            check_model_destinations(MODELS_DIR, [new_name])
