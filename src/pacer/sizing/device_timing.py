"""Time the operations of LLM serving on the local accelerator with PyTorch and random weights.

Runs standalone (``python src/pacer/sizing/device_timing.py --out DIR``): it imports only the standard
library, numpy and torch, so it runs on a bare GPU machine without pacer installed. It writes
``measurements.csv`` (one row per timed operation: its shape, seconds, FLOPs and bytes moved) and
``device.json`` (device name, torch version, date). :mod:`pacer.sizing.device_fit` turns these into
per-operation efficiencies against the accelerator's catalog peaks.

What it times (timing does not depend on the values, so weights are random):

* ``gemm``: ``(tokens x k) @ (k x n)`` at bf16 (and fp8 through ``torch._scaled_mm`` where the GPU has
  it), for the projection shapes of Llama 3.1 8B and 70B and token counts from one decode token to a
  long prefill;
* ``attention_prefill``: causal scaled-dot-product attention of a whole prompt (grouped-query heads);
* ``attention_decode``: one new token per sequence attending to a KV cache of ``context`` tokens;
* ``decode_step``: whole decode steps of a stack of Llama-shaped layers (norm, QKV, attention over a
  KV cache, output projection, gated MLP) at several batch sizes, captured in a CUDA graph as serving
  engines do (eager where graphs are unavailable).

``--tiny`` uses small shapes so the script can be tested on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

#: Llama-shaped layers: (name, hidden, heads, kv_heads, head_dim, ffn).
SHAPES = {
    "llama-3.1-8b": (4096, 32, 8, 128, 14336),
    "llama-3.1-70b": (8192, 64, 8, 128, 28672),
}
TINY_SHAPES = {"tiny": (256, 4, 2, 64, 512)}

COLUMNS = ["op", "shape", "dtype", "tokens", "k", "n", "batch", "seq", "context", "heads", "kv_heads",
           "head_dim", "layers", "graph", "seconds", "flops", "bytes"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], device: torch.device, budget_s: float) -> float:
    """Median seconds of one call of ``fn`` over repeats filling about ``budget_s``."""
    for _ in range(3):
        fn()
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    once = max(time.perf_counter() - start, 1e-6)
    repeats = int(min(200, max(3, budget_s / once)))
    samples = []
    for _ in range(5):
        n = max(1, repeats // 5)
        _sync(device)
        start = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(device)
        samples.append((time.perf_counter() - start) / n)
    samples.sort()
    return samples[len(samples) // 2]


def _fp8_available(device: torch.device) -> bool:
    if device.type != "cuda" or not hasattr(torch, "float8_e4m3fn"):
        return False
    return torch.cuda.get_device_capability(device) >= (8, 9)


def gemm_rows(shapes: Mapping[str, tuple[int, ...]], tokens: list[int], device: torch.device,
              budget_s: float) -> list[dict[str, Any]]:
    rows = []
    fp8 = _fp8_available(device)
    for name, (hidden, heads, kv_heads, head_dim, ffn) in shapes.items():
        projections = [(hidden, (heads + 2 * kv_heads) * head_dim), (heads * head_dim, hidden),
                       (hidden, 2 * ffn), (ffn, hidden)]
        for k, n in projections:
            weight = torch.randn(k, n, device=device, dtype=torch.bfloat16)
            for m in tokens:
                x = torch.randn(m, k, device=device, dtype=torch.bfloat16)
                seconds = time_call(partial(torch.matmul, x, weight), device, budget_s)
                rows.append(dict(op="gemm", shape=name, dtype="bf16", tokens=m, k=k, n=n, seconds=seconds,
                                 flops=2.0 * m * k * n, bytes=2.0 * (m * k + k * n + m * n)))
                if fp8 and m % 16 == 0:
                    x8 = x.to(torch.float8_e4m3fn)
                    w8 = weight.t().contiguous().to(torch.float8_e4m3fn).t()
                    one = torch.ones((), device=device, dtype=torch.float32)

                    def run(x8: Any = x8, w8: Any = w8, one: Any = one) -> Any:
                        return torch._scaled_mm(x8, w8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

                    try:
                        seconds = time_call(run, device, budget_s)
                    except (RuntimeError, TypeError):
                        fp8 = False
                        continue
                    rows.append(dict(op="gemm", shape=name, dtype="fp8", tokens=m, k=k, n=n, seconds=seconds,
                                     flops=2.0 * m * k * n, bytes=1.0 * (m * k + k * n) + 2.0 * m * n))
    return rows


def attention_rows(shapes: Mapping[str, tuple[int, ...]], seqs: list[int], contexts: list[int], batches: list[int],
                   device: torch.device, budget_s: float) -> list[dict[str, Any]]:
    rows = []
    for name, (_, heads, kv_heads, head_dim, _) in list(shapes.items())[-1:]:
        for seq in seqs:
            batch = max(1, seqs[-1] // seq)
            q = torch.randn(batch, heads, seq, head_dim, device=device, dtype=torch.bfloat16)
            # Keys and values expanded to every query head before timing: prefill is compute-bound.
            kv = torch.randn(batch, kv_heads, seq, head_dim, device=device, dtype=torch.bfloat16)
            kv = kv.repeat_interleave(heads // kv_heads, dim=1)
            seconds = time_call(partial(F.scaled_dot_product_attention, q, kv, kv, is_causal=True), device, budget_s)
            # Causal: each of seq queries sees on average seq/2 keys; QK^T and AV are 2 FLOP per MAC each.
            flops = 4.0 * batch * heads * head_dim * seq * seq / 2
            rows.append(dict(op="attention_prefill", shape=name, dtype="bf16", batch=batch, seq=seq, heads=heads,
                             kv_heads=kv_heads, head_dim=head_dim, seconds=seconds, flops=flops,
                             bytes=2.0 * batch * seq * head_dim * (2 * heads + 2 * kv_heads)))
        for context in contexts:
            for batch in batches:
                q = torch.randn(batch, heads, 1, head_dim, device=device, dtype=torch.bfloat16)
                k = torch.randn(batch, kv_heads, context, head_dim, device=device, dtype=torch.bfloat16)
                v = torch.randn_like(k)
                # Grouped heads read the cache once: fold the query groups into the query length.
                qg = q.reshape(batch, kv_heads, heads // kv_heads, head_dim)
                seconds = time_call(partial(F.scaled_dot_product_attention, qg, k, v), device, budget_s)
                rows.append(dict(op="attention_decode", shape=name, dtype="bf16", batch=batch, context=context,
                                 heads=heads, kv_heads=kv_heads, head_dim=head_dim, seconds=seconds,
                                 flops=4.0 * batch * heads * head_dim * context,
                                 bytes=2.0 * 2 * batch * kv_heads * context * head_dim))
    return rows


class _Layers:
    """A stack of Llama-shaped decoder layers with a KV cache, for whole decode steps."""

    def __init__(self, shape: tuple[int, ...], layers: int, batch: int, context: int, device: torch.device):
        hidden, heads, kv_heads, head_dim, ffn = shape

        def rand(*size: int) -> torch.Tensor:
            return torch.randn(*size, device=device, dtype=torch.bfloat16)

        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.qkv = [rand(hidden, (heads + 2 * kv_heads) * head_dim) * 0.02 for _ in range(layers)]
        self.out = [rand(heads * head_dim, hidden) * 0.02 for _ in range(layers)]
        self.up = [rand(hidden, 2 * ffn) * 0.02 for _ in range(layers)]
        self.down = [rand(ffn, hidden) * 0.02 for _ in range(layers)]
        self.k_cache = [rand(batch, kv_heads, context, head_dim) for _ in range(layers)]
        self.v_cache = [rand(batch, kv_heads, context, head_dim) for _ in range(layers)]
        self.x = rand(batch, hidden)
        self.batch = batch
        self.weight_bytes = 2.0 * sum(w.numel() for w in self.qkv + self.out + self.up + self.down)
        self.kv_bytes = 2.0 * sum(c.numel() for c in self.k_cache + self.v_cache)
        self.flops = 2.0 * batch * self.weight_bytes / 2.0 + 4.0 * batch * heads * head_dim * context * layers

    def step(self) -> torch.Tensor:
        x = self.x
        b, h, kvh, d = self.batch, self.heads, self.kv_heads, self.head_dim
        for qkv, out, up, down, kc, vc in zip(self.qkv, self.out, self.up, self.down, self.k_cache, self.v_cache,
                                              strict=True):
            y = F.rms_norm(x, (x.shape[-1],))
            q, _, _ = (y @ qkv).split([h * d, kvh * d, kvh * d], dim=-1)
            attn = F.scaled_dot_product_attention(q.reshape(b, kvh, h // kvh, d), kc, vc)
            x = x + attn.reshape(b, h * d) @ out
            gate, lin = (F.rms_norm(x, (x.shape[-1],)) @ up).chunk(2, dim=-1)
            x = x + (F.silu(gate) * lin) @ down
        return x


#: Largest KV cache a decode-step measurement allocates (bytes), so every size fits an 80 GB GPU.
MAX_STEP_KV_BYTES = 40e9


def decode_step_rows(shapes: Mapping[str, tuple[int, ...]], layers: int, batches: list[int], contexts: list[int],
                     device: torch.device, budget_s: float) -> list[dict[str, Any]]:
    rows = []
    for name, shape in shapes.items():
        _, _, kv_heads, head_dim, _ = shape
        for batch, context in [(b, c) for c in contexts for b in batches]:
            if 2.0 * 2 * batch * context * kv_heads * head_dim * layers > MAX_STEP_KV_BYTES:
                continue
            stack = _Layers(shape, layers, batch, context, device)
            fn: Callable[[], Any] = stack.step
            graph = False
            if device.type == "cuda":
                try:
                    side = torch.cuda.Stream(device)
                    side.wait_stream(torch.cuda.current_stream(device))
                    with torch.cuda.stream(side):
                        for _ in range(2):
                            stack.step()
                    torch.cuda.current_stream(device).wait_stream(side)
                    cuda_graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(cuda_graph):
                        stack.step()
                    fn, graph = cuda_graph.replay, True
                except RuntimeError:
                    fn, graph = stack.step, False
            seconds = time_call(fn, device, budget_s)
            _, heads, kv_heads, head_dim, _ = shape
            rows.append(dict(op="decode_step", shape=name, dtype="bf16", batch=batch, context=context, heads=heads,
                             kv_heads=kv_heads, head_dim=head_dim, layers=layers, graph=int(graph), seconds=seconds,
                             flops=stack.flops, bytes=stack.weight_bytes + stack.kv_bytes))
            del stack
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for measurements.csv and device.json")
    parser.add_argument("--tiny", action="store_true", help="small shapes, for a quick test on a CPU")
    parser.add_argument("--budget-ms", type=float, default=30.0, help="time spent on repeats per measurement")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    budget = args.budget_ms / 1e3
    if args.tiny:
        shapes, tokens, seqs, contexts, batches = TINY_SHAPES, [1, 16, 64], [64, 256], [128, 512], [1, 8]
        layers, step_batches, step_contexts = 2, [1, 4, 8], [128]
    else:
        shapes, tokens = SHAPES, [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
        seqs, contexts, batches = [1024, 2048, 4096, 8192, 16384], [1024, 4096, 16384], [1, 8, 32, 64, 256]
        layers, step_batches, step_contexts = 8, [1, 8, 32, 64, 128, 256, 512], [512, 2048, 8192]
    started = time.time()
    rows = gemm_rows(shapes, tokens, device, budget)
    rows += attention_rows(shapes, seqs, contexts, batches, device, budget)
    rows += decode_step_rows(shapes, layers, step_batches, step_contexts, device, budget)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "measurements.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    info = {"device": name, "torch": torch.__version__, "date": dt.date.today().isoformat(),
            "cuda": torch.version.cuda, "rows": len(rows), "seconds": round(time.time() - started, 1),
            "fp8_gemm": _fp8_available(device)}
    (args.out / "device.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info))
    assert all(math.isfinite(r["seconds"]) and r["seconds"] > 0 for r in rows)


if __name__ == "__main__":
    main()
