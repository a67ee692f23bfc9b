"""The loopback chat server as a program, for datatrove's ``custom`` inference server (started once per task).

``python _served_loopback.py --port N [--launch-log=FILE]`` serves ``test_pipelines.synth_responder`` on 127.0.0.1:N
until terminated, after appending N to FILE (the test counts the launches).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openai_server import ChatServer  # noqa: E402
from test_pipelines import synth_responder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--launch-log", default=None)
    args = parser.parse_args()
    server = ChatServer(synth_responder(), port=args.port)
    if args.launch_log:
        with open(args.launch_log, "a", encoding="utf-8") as log:
            log.write(f"{args.port}\n")
    print(f"Uvicorn running on http://127.0.0.1:{args.port}", flush=True)  # the line datatrove logs as "ready"
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
