"""Ranks that split one tensor reproduce the single-process mask bit for bit.

    torchrun --nproc_per_node=4 python/examples/ranks.py

(gloo over loopback, CPU). Every rank builds the same global batch X of
shape (B, F) and agrees on one stream (drawn from torch's generator after
the same torch.manual_seed). Then:

- data parallel: rank r holds rows [r*B/R, (r+1)*B/R), a contiguous shard,
  and drops it at its global offset r*(B/R)*F;
- tensor parallel: rank r holds columns [r*F/R, (r+1)*F/R); row b of its
  shard starts at global index b*F + r*F/R, so it makes one call per row at
  that offset.

Each result is gathered on every rank and compared with the single-process
dropout of X: the same bits.
"""

import os

import torch
import torch.distributed as dist

import dropkit.torch as dkt


def main():
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    b, f, p = 8 * world, 96 * world, 0.3
    torch.manual_seed(0)
    x = torch.randn(b, f)
    stream = dkt.draw_stream()
    whole = dkt.dropout(x, p, stream=stream)  # what one process computes

    rows = b // world
    shard = x[rank * rows:(rank + 1) * rows].contiguous()
    mine = dkt.dropout(shard, p, stream=stream, offset=rank * rows * f)
    parts = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(parts, mine)
    data_parallel = torch.cat(parts, 0)

    cols = f // world
    c0 = rank * cols
    local = x[:, c0:c0 + cols].contiguous()
    mine = torch.stack([dkt.dropout(local[i], p, stream=stream, offset=i * f + c0)
                        for i in range(b)])
    parts = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(parts, mine)
    tensor_parallel = torch.cat(parts, 1)

    dp = torch.equal(data_parallel.view(torch.int32), whole.view(torch.int32))
    tp = torch.equal(tensor_parallel.view(torch.int32), whole.view(torch.int32))
    if rank == 0:
        kept = (whole != 0).float().mean().item()
        print(f"{world} ranks, X {tuple(x.shape)}, rate {p}, stream {stream:#x}, kept {kept:.3f}")
        print(f"data parallel (row shards at their offsets):      {'same bits' if dp else 'DIFFERENT'}")
        print(f"tensor parallel (column shards, a call per row):  {'same bits' if tp else 'DIFFERENT'}")
    ok = torch.tensor([int(dp and tp)])
    dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    dist.destroy_process_group()
    if not ok.item():
        raise SystemExit(f"rank {rank}: shards differ from the single-process mask")


if __name__ == "__main__":
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    main()
