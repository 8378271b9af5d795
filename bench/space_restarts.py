"""A space node while its site restarts again and again: where does the node's compute go?

    .venv/bin/python bench/space_restarts.py [--restarts 20] [--jobs-per-round 3] [--seed 1]

A real space client (`ws_client`) on the tiny random-weight checkpoint serves the project's test
hub (`tests/spaces_hub.py`, the site's routes and rules). Each round submits a few jobs, waits a
random moment, and restarts the hub without its memory, as a real site restart does: every
request it had not finished is forgotten. After the last restart a final round must complete.

Printed: jobs submitted, delivered, dropped unrun (`forgotten`), made but undeliverable, and the
seconds of synthesis spent on jobs that *started* after the site had forgotten them (the issue's
goal: 0), against the seconds spent on jobs that were running when a restart hit (unavoidable).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indextts.factory import make_checkpoint
from indextts.pipeline import IndexTTS2
from serving.engine import LoadedEngine
from serving.jobs import Job
from serving.node import Node, NodeSettings
from serving.status import ConnectionStatus
from tests.spaces_hub import SpacesHub
from ws_client import SpaceClient
from ws_client.journal import FORGOTTEN, SENT, UNDELIVERABLE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--restarts", type=int, default=20)
    parser.add_argument("--jobs-per-round", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="space-restarts-"))
    engine = IndexTTS2(make_checkpoint(work / "ckpt", "tiny"), device="cpu")
    hub = SpacesHub(spaces=["voice"]).start()
    settings = NodeSettings(outputs_dir=work / "outputs", allowed_dirs=(EXAMPLES,), spaces_server=hub.url)
    node = Node(LoadedEngine(engine, work / "ckpt", True, "bench", 0.0), settings, ConnectionStatus(hub.url, "voice"))
    runs: list[Job] = []
    node.queue.add_listener(runs.append)
    client = SpaceClient(node, hub.url, "voice")
    client.start()
    forgotten_at: dict[str, float] = {}  # request id → when the site forgot it
    request_of_text: dict[str, str] = {}
    started = time.perf_counter()
    try:
        for round_no in range(args.restarts + 1):
            hub.wait_until(lambda: hub.connected_space("voice") is not None, timeout=120, what="registration")
            for k in range(args.jobs_per_round):
                text = f"第{round_no}轮第{k}句。"
                request_of_text[text] = hub.submit("voice", text, hub.prompt_url("voice_01.wav"), **FAST)
            if round_no == args.restarts:
                break
            time.sleep(rng.uniform(0.5, 4.0))
            hub.stop()  # from here the site answers nothing; it comes back without its memory
            now = time.time()
            for request_id, record in hub.state.requests.items():
                if record.status not in ("completed", "failed"):
                    forgotten_at.setdefault(request_id, now)
            hub.restart(keep_history=False, down_for=rng.uniform(0.1, 1.5))
            print(f"restart {round_no + 1}/{args.restarts}", flush=True)
        final = [request_of_text[f"第{args.restarts}轮第{k}句。"] for k in range(args.jobs_per_round)]
        statuses = [hub.wait_for(request_id, timeout=300).status for request_id in final]
        time.sleep(1.0)  # let the sweep and the last sends settle before reading the journal
        states = {
            rid: client.journal.get(rid).state if client.journal.get(rid) else "never arrived"
            for rid in request_of_text.values()
        }
    finally:
        client.stop()
        node.close()
        hub.stop()
    wasted = cut_short = 0.0
    for job in runs:
        request_id = request_of_text.get(job.payload.request.text)
        if request_id is None or job.started_at is None or job.finished_at is None:
            continue
        seconds = job.finished_at - job.started_at
        lost = forgotten_at.get(request_id)
        if lost is not None and job.started_at >= lost:
            wasted += seconds
        elif lost is not None:
            cut_short += seconds
    count = {state: sum(1 for s in states.values() if s == state) for state in (SENT, FORGOTTEN, UNDELIVERABLE)}
    print(f"\n{args.restarts} site restarts, {len(states)} jobs submitted, {time.perf_counter() - started:.0f} s")
    print(f"  delivered                                   {count[SENT]}")
    print(f"  dropped unrun (site forgot them first)      {count[FORGOTTEN]}")
    print(f"  made but undeliverable (restart mid-job)    {count[UNDELIVERABLE]}")
    print(f"  other states                                {len(states) - sum(count.values())}")
    print(f"  synthesis seconds, jobs started after the site forgot them: {wasted:.2f}")
    print(f"  synthesis seconds, jobs running when a restart hit:         {cut_short:.2f}")
    print(f"  synthesis runs in all: {len(runs)}; final round after the last restart: {statuses}")
    return 0 if wasted == 0 and statuses == ["completed"] * len(final) else 1


if __name__ == "__main__":
    sys.exit(main())
