"""The memory the decoder (attnviz.decoder) adds to a process, and how much of it forked replicas share.

A server that loads the model once and then forks its replicas (as the course's launcher does for MiniLM) shares the
weights' pages copy-on-write: a tensor created before the fork is read, never written, by a forward pass, so its
pages stay shared. This measures it from /proc/PID/smaps_rollup: Rss (resident), Pss (resident, shared pages
divided among the processes sharing them) and Private (Private_Clean + Private_Dirty: what this process alone
holds, i.e. what a replica really adds).

    1. the parent: RSS after `import torch, attnviz.decoder`, then after `load_model("cpu")`;
    2. N children forked after the load, each running one 256-token pass with every map kept, then holding its
       result (as a page's cache would) while the others measure;
    3. for contrast, one child that loads its own copy after the fork.

    python bench/bench_decoder_memory.py --replicas 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 2**20


def rollup(pid: int | str = "self") -> dict[str, int]:
    """Bytes of Rss, Pss, Private (clean + dirty) and Shared (clean + dirty) of a process."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0]) * 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "private": fields["Private_Clean"] + fields["Private_Dirty"],
        "shared": fields["Shared_Clean"] + fields["Shared_Dirty"],
    }


def child(write_fd: int, go_fd: int, model, text: str, own_copy: bool) -> None:
    import torch

    torch.set_num_threads(1)  # no OpenMP pool inherited across the fork
    from attnviz.decoder import forward, load_model

    at_fork = rollup()
    if own_copy:
        model = load_model("cpu")
    loaded = rollup()
    result = forward(model, text)  # every map kept, as a page does
    _ = result.weights  # stacked once, as a page that draws the grid asks for it
    after = rollup()
    os.write(write_fd, (json.dumps({"at_fork": at_fork, "loaded": loaded, "after_pass": after}) + "\n").encode())
    os.read(go_fd, 1)  # hold the result until the parent has measured everyone
    os._exit(0)


def spawn(model, text: str, own_copy: bool) -> tuple[int, int, int]:
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(go_w)
        child(w, go_r, model, text, own_copy)
    os.close(w)
    os.close(go_r)
    return pid, r, go_w


def read_line(fd: int) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data)


def show(label: str, m: dict[str, int]) -> None:
    print(f"  {label:52} rss {m['rss'] / MIB:6.0f}  pss {m['pss'] / MIB:6.0f}  private {m['private'] / MIB:6.0f}"
          f"  shared {m['shared'] / MIB:6.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    import torch

    torch.set_num_threads(1)
    from attnviz.census_paragraphs import PARAGRAPHS
    from attnviz.decoder import load_model

    text = " ".join(PARAGRAPHS)  # 256 tokens once cut
    show("parent after import torch, attnviz.decoder", before := rollup())
    start = time.perf_counter()
    model = load_model("cpu")
    loaded = rollup()
    show(f"parent after load_model ({time.perf_counter() - start:.1f} s)", loaded)
    print(f"  the load added {(loaded['rss'] - before['rss']) / MIB:.0f} MiB resident "
          f"(float32 weights: {model.weight_bytes / MIB:.0f} MiB)")  # fmt: skip
    print()
    print(f"{args.replicas} replicas forked after the load, each with one 256-token pass (maps kept and stacked):")
    children = [spawn(model, text, own_copy=False) for _ in range(args.replicas)]
    reports = [read_line(r) for _, r, _ in children]
    for i, rep in enumerate(reports):
        show(f"replica {i} at the fork", rep["at_fork"])
        show(f"replica {i} after its pass, result held", rep["after_pass"])
    now = [rollup(pid) for pid, _, _ in children]
    for i, m in enumerate(now):
        show(f"replica {i} once all are done (pages shared by {args.replicas + 1})", m)
    show("parent meanwhile", rollup())
    for pid, _, go in children:
        os.write(go, b"x")
        os.waitpid(pid, 0)
    print()
    print("For contrast, a child that loads its own copy after the fork:")
    pid, r, go = spawn(model, text, own_copy=True)
    rep = read_line(r)
    show("own copy: at the fork", rep["at_fork"])
    show("own copy: after its own load_model", rep["loaded"])
    show("own copy: after its pass, result held", rep["after_pass"])
    os.write(go, b"x")
    os.waitpid(pid, 0)
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
