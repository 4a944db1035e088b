"""``python -m cnnstudio.engine.sweep.worker SETTINGS INDEX``: one worker process of a sweep
(runner.start_worker starts it); SETTINGS is runner.Settings as JSON."""

from __future__ import annotations

import json
import sys

from .runner import Settings, SweepError, worker_main


def main(argv: list[str]) -> int:
    settings = Settings(**json.loads(argv[0]))
    try:
        worker_main(settings, int(argv[1]))
    except SweepError as exc:
        print(f"cnnstudio sweep worker {argv[1]}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
