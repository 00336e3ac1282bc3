"""Profile the Rasa server under a steady load of patient messages (py-spy, sampling, no code change).

Starts both servers on loopback, sends FAQ-style messages in English and Spanish from 20
conversations for `--seconds`, records the Rasa server with py-spy and prints the share of samples
spent in the parts an FAQ turn pays for (docs/performance.md, "Where an FAQ turn's time goes").
Usage: python scripts/profile_server.py [--seconds 40] [--flamegraph var/profile.svg] [--raw var/profile.txt]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.launcher import Servers, settings_with_ports  # noqa: E402
from tests.conftest import free_port  # noqa: E402

QUESTIONS = [
    "What is PRP?", "how long does radiofrequency ablation last?", "¿Qué es el tratamiento RELIEF?",
    "is it covered by insurance?", "what causes facet arthritis", "hola", "how is a PRP injection done?",
    "¿cuánto cuesta?",
]  # fmt: skip
# Parts of a turn, by the frames their samples pass through (a sample may count in several).
PARTS = {
    "validating the action server's reply (jsonschema)": r"jsonschema",
    "all policy predictions": r"_predict_next_with_tracker",
    "TEDPolicy (TensorFlow)": r"ted_policy",
    "tracker store: load": r"tracker_store.*retrieve",
    "tracker store: save": r"tracker_store.*save",
    "NLU parse (all components)": r"_parse_message_with_graph",
    "one-decision classifier": r"one_decision",
    "red-flag rules": r"red_flag",
}


def post(url: str, sender: str, text: str) -> None:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()


def shares(raw: Path) -> tuple:
    samples, found = 0, collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples += int(count)
        for part, pattern in PARTS.items():
            if re.search(pattern, stack):
                found[part] += int(count)
    return samples, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--flamegraph", type=Path)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.txt"
        with Servers(
            settings_with_ports(free_port(), free_port(), Path(tmp) / "t.db"), log_dir=Path(tmp) / "logs"
        ) as servers:
            for index in range(10):  # warm-up
                post(servers.rest_url, "warm-up", QUESTIONS[index % len(QUESTIONS)])
            spy = [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "-p",
                str(servers.pid("rasa")),
                "-r",
                "50",
                "-d",
                str(args.seconds),
            ]
            recorders = [
                subprocess.Popen(
                    [*spy, "-f", "raw", "-o", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            ]
            if args.flamegraph:
                recorders.append(
                    subprocess.Popen(
                        [*spy, "-o", str(args.flamegraph)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            started, sent = time.monotonic(), 0
            while time.monotonic() - started < args.seconds - 1:
                post(servers.rest_url, f"user-{sent % 20}", QUESTIONS[sent % len(QUESTIONS)])
                sent += 1
            for recorder in recorders:
                recorder.wait()
        samples, found = shares(raw)
        if args.raw:
            args.raw.write_text(raw.read_text())
    print(f"{sent} messages in {args.seconds} s; {samples} samples of the Rasa server\n")
    print("| part of the turn | share of samples |\n|---|---|")
    for part in PARTS:
        print(f"| {part} | {found[part] / max(samples, 1):.0%} |")


if __name__ == "__main__":
    main()
