"""Command line: python -m bot run | shell | cluster | build-spacy | bookings | staff | privacy."""

from __future__ import annotations

import argparse
import subprocess
import sys

from bot import PROJECT_ROOT
from bot.bookings import cli as bookings_cli
from bot.env_file import load_env_file
from bot.privacy import cli as privacy_cli
from bot.staff import cli as staff_cli


def _shell() -> int:
    """Terminal chat: the action server in the background, `rasa shell` in front."""
    from bot.launcher import Servers
    from bot.settings import load_runtime_settings

    settings = load_runtime_settings()
    servers = Servers(settings, log_dir=PROJECT_ROOT / "var" / "logs")
    servers.start_action_server()
    try:
        command = [
            sys.executable, "-m", "rasa", "shell",
            "--model", str(settings.model_path),
            "--endpoints", str(PROJECT_ROOT / "endpoints.yml"),
        ]  # fmt: skip
        return subprocess.call(command, cwd=PROJECT_ROOT, env=servers.environment())
    finally:
        servers.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The facet-joint clinic assistant.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the action server and the Rasa server (Ctrl-C stops both)")
    commands.add_parser("shell", help="chat with the bot in the terminal")
    commands.add_parser("build-spacy", help="build the offline spaCy pipeline")
    cluster = commands.add_parser(
        "cluster", help="the production topology on this machine (README, Production)"
    )
    cluster.add_argument(
        "action", choices=("start", "stop", "run"), help="start/stop in the background, or run here"
    )
    bookings_cli.add_parser(commands)
    staff_cli.add_parser(commands)
    privacy_cli.add_parser(commands)
    args = parser.parse_args(argv)
    load_env_file()
    if args.command == "bookings":
        return bookings_cli.run(args)
    if args.command == "staff":
        return staff_cli.run(args)
    if args.command == "privacy":
        return privacy_cli.run(args)
    if args.command == "run":
        from bot.launcher import run_forever

        return run_forever()
    if args.command == "shell":
        return _shell()
    if args.command == "cluster":
        from bot import cluster as local_cluster

        layout = local_cluster.layout_from_environment()
        actions = {
            "start": local_cluster.start_in_background,
            "stop": local_cluster.stop_background,
            "run": local_cluster.run_forever,
        }
        return actions[args.action](layout)
    from bot.nlu.spacy_pipeline import main as build_spacy

    build_spacy([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
