#!/usr/bin/env python3
"""PyTorch baseline and independent reference for DeepEP for .NET's fused MoE layer (docs/fused-moe.md).

  bench      Time the expert FFN's two grouped GEMMs (W1, SwiGLU, W2) with torch._grouped_mm (BF16) and
             torch._scaled_grouped_mm (FP8 E4M3, rowwise scales) at the shapes of `deepep bench --mode fused`'s
             "grouped GEMMs alone" table: 32, 128 and 512 rows per expert with 32, 32 and 8 experts, H 7168, I 2048.
             Median of CUDA-event timings after warm-ups; columns µs, weight TB/s, TFLOP/s as ours.
             Note: torch's FP8 path scales per row / per output channel, ours per 128 channels / 128x128 block.
  reference  Recompute the layer in float32 from a dump directory and print DeepEP's calc_diff against the dumped
             output (format below). Needs torch (CPU or CUDA) and numpy only.

Dump directory (one per quant mode): meta.json {"ranks", "tokens", "hidden", "intermediate", "local_experts",
"topk", "quant": "bf16"|"int8"|"fp8"} and per rank r the raw little-endian files rank{r}/x.bin [T, H] bf16,
topk_idx.bin [T, K] int64 (-1 = masked), topk_weights.bin [T, K] f32, w1.bin [E_l, 2I, H], w2.bin [E_l, H, I]
(bf16, int8 or e4m3 bytes), w1_scales.bin / w2_scales.bin f32 (int8: [E_l, 2I] / [E_l, H]; fp8:
[E_l, 2I/128, H/128] / [E_l, H/128, I/128]; absent for bf16) and out.bin [T, H] bf16 (the layer's output).
"""
import argparse
import json
import os
import statistics

import numpy as np
import torch

SHAPES = [(32, 32), (128, 32), (512, 8)]  # (rows per expert, experts)


def cuda_median_us(fn, warmups, iterations):
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    events = [torch.cuda.Event(enable_timing=True) for _ in range(iterations + 1)]
    events[0].record()
    for i in range(iterations):
        fn()
        events[i + 1].record()
    torch.cuda.synchronize()
    return statistics.median(events[i].elapsed_time(events[i + 1]) * 1e3 for i in range(iterations))


def fp8_rowwise(x):
    """E4M3 values and per-row float32 scales (amax / 448) of a 2-D or 3-D tensor, last dimension reduced."""
    scale = x.abs().amax(dim=-1).float().clamp(min=1e-4) / 448.0
    return (x.float() / scale.unsqueeze(-1)).to(torch.float8_e4m3fn), scale


def bench_one(quant, rows, experts, hidden, inter, warmups, iterations):
    dev = "cuda"
    m = rows * experts
    offs = torch.arange(rows, m + 1, rows, device=dev, dtype=torch.int32)
    x = torch.randn(m, hidden, device=dev, dtype=torch.bfloat16)
    w1 = torch.randn(experts, 2 * inter, hidden, device=dev, dtype=torch.bfloat16) / hidden ** 0.5
    w2 = torch.randn(experts, hidden, inter, device=dev, dtype=torch.bfloat16) / inter ** 0.5
    if quant == "bf16":
        b1, b2 = w1.transpose(-2, -1), w2.transpose(-2, -1)  # [E, K, N], column-major as the op wants
        weight_bytes = (w1.numel() + w2.numel()) * 2

        def layer():
            gu = torch._grouped_mm(x, b1, offs=offs, out_dtype=torch.bfloat16)
            h = torch.nn.functional.silu(gu[:, :inter]) * gu[:, inter:]
            return torch._grouped_mm(h, b2, offs=offs, out_dtype=torch.bfloat16)
    else:
        q1, s1 = fp8_rowwise(w1)
        q2, s2 = fp8_rowwise(w2)
        b1, b2 = q1.transpose(-2, -1), q2.transpose(-2, -1)
        xq, xs = fp8_rowwise(x)
        weight_bytes = q1.numel() + q2.numel() + (s1.numel() + s2.numel()) * 4

        def layer():
            gu = torch._scaled_grouped_mm(xq, b1, xs, s1, offs=offs, out_dtype=torch.bfloat16)
            h = torch.nn.functional.silu(gu[:, :inter].float()) * gu[:, inter:].float()
            hq, hs = fp8_rowwise(h)
            return torch._scaled_grouped_mm(hq, b2, hs, s2, offs=offs, out_dtype=torch.bfloat16)
    us = cuda_median_us(layer, warmups, iterations)
    flops = 2.0 * m * 2 * inter * hidden + 2.0 * m * hidden * inter
    return us, weight_bytes, flops


def cmd_bench(args):
    assert torch.cuda.is_available(), "bench needs a CUDA GPU"
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: W1 GEMM, SwiGLU (+ FP8 cast), W2 GEMM; "
          f"H {args.hidden}, I {args.intermediate}; median of {args.iterations} after {args.warmups} warm-ups")
    header = f"{'op':<24} {'quant':>5} {'rows/expert':>11} {'experts':>7} {'µs':>9} {'weights MB':>10} {'TB/s':>7} {'TFLOP/s':>8}"
    print(header)
    print("-" * len(header))
    results = []
    for quant in args.quant:
        op = "torch._grouped_mm" if quant == "bf16" else "torch._scaled_grouped_mm"
        for rows, experts in SHAPES:
            us, wbytes, flops = bench_one(quant, rows, experts, args.hidden, args.intermediate, args.warmups, args.iterations)
            tbs, tflops = wbytes / (us * 1e6), flops / (us * 1e6)
            print(f"{op:<24} {quant:>5} {rows:>11} {experts:>7} {us:>9.1f} {wbytes / 1e6:>10.1f} {tbs:>7.3f} {tflops:>8.2f}")
            results.append(dict(op=op, quant=quant, rows=rows, experts=experts, median_us=us, weight_bytes=wbytes,
                                weight_tbps=tbs, tflops=tflops))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, device=torch.cuda.get_device_name(), results=results), f, indent=2)


def load(path, dtype, shape):
    raw = np.fromfile(path, dtype=np.uint8)
    if dtype == "bf16":
        return torch.from_numpy(raw.view(np.int16).copy()).view(torch.bfloat16).float().reshape(shape)
    if dtype == "fp8":
        return torch.from_numpy(raw.copy()).view(torch.float8_e4m3fn).float().reshape(shape)
    return torch.from_numpy(raw.view({"int8": np.int8, "f32": np.float32, "i64": np.int64}[dtype]).copy()).reshape(shape)


def dequantise(w, scales, quant):
    """Float32 weights: int8 scales per output row, fp8 scales per 128 x 128 block (docs/fused-moe.md)."""
    if quant == "int8":
        return w.float() * scales.unsqueeze(-1)
    if quant == "fp8":
        return w * scales.repeat_interleave(128, dim=-2).repeat_interleave(128, dim=-1)
    return w


def cast_activation(x, quant):
    """The activation cast of the arithmetic section (Int8 per row, Fp8 per 128 channels), dequantised."""
    if quant == "int8":
        s = x.abs().amax(-1, keepdim=True).clamp(min=1e-4) / 127
        return torch.round(x / s).clamp(-127, 127) * s
    if quant == "fp8":
        blocks = x.reshape(*x.shape[:-1], -1, 128)
        s = blocks.abs().amax(-1, keepdim=True) / 448
        s = torch.where(s == 0, torch.ones_like(s), s)
        return ((blocks / s).to(torch.float8_e4m3fn).float() * s).reshape(x.shape)
    return x


def calc_diff(x, y):
    x, y = x.double() + 1, y.double() + 1
    return (1 - 2 * (x * y).sum() / (x * x + y * y).sum()).item()


def cmd_reference(args):
    meta = json.load(open(os.path.join(args.dump, "meta.json")))
    R, T, H, I, El, K, quant = (meta[k] for k in ("ranks", "tokens", "hidden", "intermediate", "local_experts", "topk", "quant"))
    dev = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    wdtype = {"bf16": "bf16", "int8": "int8", "fp8": "fp8"}[quant]
    rank_dir = [os.path.join(args.dump, f"rank{r}") for r in range(R)]

    def weights(r):
        w1 = load(os.path.join(rank_dir[r], "w1.bin"), wdtype, (El, 2 * I, H))
        w2 = load(os.path.join(rank_dir[r], "w2.bin"), wdtype, (El, H, I))
        if quant == "bf16":
            return w1.to(dev), w2.to(dev)
        s1 = load(os.path.join(rank_dir[r], "w1_scales.bin"), "f32", (El, 2 * I) if quant == "int8" else (El, 2 * I // 128, H // 128))
        s2 = load(os.path.join(rank_dir[r], "w2_scales.bin"), "f32", (El, H) if quant == "int8" else (El, H // 128, I // 128))
        return dequantise(w1, s1, quant).to(dev), dequantise(w2, s2, quant).to(dev)

    xs = [load(os.path.join(d, "x.bin"), "bf16", (T, H)).to(dev) for d in rank_dir]
    idx = [load(os.path.join(d, "topk_idx.bin"), "i64", (T, K)).to(dev) for d in rank_dir]
    tw = [load(os.path.join(d, "topk_weights.bin"), "f32", (T, K)).to(dev) for d in rank_dir]
    outs = [torch.zeros(T, H, device=dev) for _ in range(R)]
    act = (lambda v: v) if args.no_activation_cast else (lambda v: cast_activation(v, quant))
    for owner in range(R):  # experts of one rank at a time keep memory at one rank's weights
        w1, w2 = weights(owner)
        for r in range(R):
            for k in range(K):
                e = idx[r][:, k]
                for local in range(El):
                    rows = (e == owner * El + local).nonzero().flatten()
                    if rows.numel() == 0:
                        continue
                    gu = act(xs[r][rows]) @ w1[local].T
                    h = (torch.nn.functional.silu(gu[:, :I]) * gu[:, I:]).bfloat16().float()
                    y = (act(h) @ w2[local].T).bfloat16().float()
                    outs[r][rows] += y * tw[r][rows, k].unsqueeze(-1)
    got = torch.cat([load(os.path.join(d, "out.bin"), "bf16", (T, H)) for d in rank_dir])
    want = torch.cat([o.bfloat16().float().cpu() for o in outs])
    bound = 1e-5 if quant == "bf16" else 1e-3
    diff = calc_diff(got, want)
    print(f"{quant}: {R} ranks x {T} tokens, H {H}, I {I}, {El} experts per rank, top-{K}: calc_diff {diff:.3e} (bound {bound:.0e})")
    return 0 if diff <= bound else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time torch's grouped GEMMs at the bench shapes")
    b.add_argument("--hidden", type=int, default=7168)
    b.add_argument("--intermediate", type=int, default=2048)
    b.add_argument("--quant", nargs="+", choices=["bf16", "fp8"], default=["bf16", "fp8"])
    b.add_argument("--warmups", type=int, default=10)
    b.add_argument("--iterations", type=int, default=50)
    b.add_argument("--json", help="also write the results here")
    r = sub.add_parser("reference", help="float32 reference of a dumped layer, calc_diff against its output")
    r.add_argument("dump", help="dump directory (format in this script's docstring)")
    r.add_argument("--cpu", action="store_true", help="compute on the CPU even with a GPU")
    r.add_argument("--no-activation-cast", action="store_true", help="keep activations unquantised (then Fp8 measures ~1e-3 from the format itself)")
    args = p.parse_args()
    raise SystemExit(cmd_bench(args) if args.command == "bench" else cmd_reference(args))


if __name__ == "__main__":
    main()
