"""The shared trainer against a plain PyTorch loop, on a GPU (or the CPU), and device moves.

For each deep hasher (small networks at 32x32; on CUDA also ResNet-18 at 224x224), fits the
hasher for a few epochs and times its epochs, then times a plain PyTorch loop over the same
network, batch size, optimiser, mixed precision and loss, reading a pre-standardised float32
tensor (pinned on CUDA) in a random order: what a user would write by hand. Reports training
images/s of both (median of the epochs after the first, over rounds after a warm-up round)
and their ratio, and encoding images/s. On CUDA it also checks that a model pickled on the
GPU loads and encodes on the CPU (identical weights; codes agreeing but for values within
rounding of zero), and that ``HammingIndex(backend="torch")`` returns exactly the numba
scan's neighbours. Synthetic images: speed does not depend on what they show. Writes the
"trainer-<device>" section of ``docs/benchmarks.md``.

    python benchmarks/gpu.py                    # CUDA when available, else the CPU
    python benchmarks/gpu.py --device cpu --no-write
"""

import argparse
import copy
import pickle
import statistics
import time

import numpy as np
import torch
from _report import environment, write_section

from skhash import deep
from skhash.deep._device import autocast_dtype


def configs(device):
    """(label, hasher class name, image shape, n_images, epochs, parameters) to time."""
    gpu = device.startswith("cuda")
    n_small = 20_000 if gpu else 3_000
    rows = [
        ("DSBH small CNN", "DSBH", (3, 32, 32), n_small, 3, {}),
        ("DPHB AlexNet-BN", "DPHB", (3, 32, 32), n_small if gpu else 1_000, 3, {}),
        ("DAHP ResNet-18", "DAHP", (3, 32, 32), n_small if gpu else 1_000, 3, {}),
        ("SCAE", "SCAE", (3, 32, 32), n_small, 3, {"pretrain_epochs": 0}),
    ]
    if gpu:
        rows.append(
            ("DSBH ResNet-18 224", "DSBH", (3, 224, 224), 12_800, 3, {"backbone": "resnet18"})
        )
    return rows


def make_data(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), rng.integers(0, 10, size=n)


def time_plain_loop(hasher, X, y, epochs):
    """Epoch times of a hand-written loop over a copy of the hasher's network."""
    device = torch.device(hasher.device_)
    network = copy.deepcopy(hasher.module_).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=hasher.lr)
    amp = autocast_dtype(hasher.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    mean = torch.as_tensor(hasher.channel_mean_).view(1, -1, 1, 1)
    std = torch.as_tensor(hasher.channel_std_).view(1, -1, 1, 1)
    inputs = (torch.from_numpy(X).float() - mean) / std
    targets = hasher._encode_targets(y)
    if device.type == "cuda":
        inputs = inputs.pin_memory()
        targets = None if targets is None else targets.pin_memory()
    channels_last = hasher._preprocessing.channels_last
    durations = []
    for _ in range(epochs):
        tic = time.perf_counter()
        order = torch.randperm(len(inputs))
        for start in range(0, len(order), hasher.batch_size):
            index = order[start : start + hasher.batch_size]
            x = inputs[index].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y_batch = None if targets is None else targets[index].to(device, non_blocking=True)
            batch = {"x": x, "y": y_batch, "index": index}
            with torch.autocast(device.type, amp, enabled=amp is not None):
                raw = network(x)
            outputs = {k: v.float() if v.is_floating_point() else v for k, v in raw.items()}
            loss = sum(hasher._loss(outputs, batch).values())
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        durations.append(time.perf_counter() - tic)
    return durations


def check_device_moves(hasher, X):
    """Pickled on the GPU, loaded on the CPU: weights equal and codes agreeing."""
    state = pickle.loads(pickle.dumps(hasher)).__getstate__()
    same = all(
        torch.equal(v, hasher.module_.state_dict()[k].cpu())
        for k, v in state["module_"].state_dict().items()
    )
    state["device"] = "cpu"
    on_cpu = type(hasher).__new__(type(hasher))
    on_cpu.__setstate__(state)
    sample = X[:2000]
    agree = float((on_cpu.transform(sample) == hasher.transform(sample)).mean())
    return same, agree


def check_torch_backend():
    from skhash.index import HammingIndex

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, size=(200_000, 64), dtype=np.uint8)
    queries = rng.integers(0, 2, size=(500, 64), dtype=np.uint8)
    a = HammingIndex(backend="torch").fit(codes).kneighbors(queries, n_neighbors=50)
    b = HammingIndex(backend="numba").fit(codes).kneighbors(queries, n_neighbors=50)
    return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))


def run(device, rounds):
    rows = []
    for label, name, shape, n, epochs, params in configs(device):
        X, y = make_data(shape, n)
        cls = getattr(deep, name)
        trainer_times, plain_times = [], []
        # rounds interleave the two, so both see the same load on a shared machine; round 0
        # warms the kernel caches (oneDNN, cuDNN) for both and is not counted
        for round_ in range(rounds + 1):
            hasher = cls(
                n_bits=64,
                device=device,
                max_epochs=epochs,
                augmentation=None,
                lr_schedule=None,
                random_state=0,
                **params,
            )
            hasher.fit(X, y)
            plain = time_plain_loop(hasher, X, y, epochs)
            if round_ > 0:
                trainer_times += [r["dur"] for r in hasher.history_[1:]]
                plain_times += plain[1:]
        hasher.transform(X[:256])  # warm up
        tic = time.perf_counter()
        hasher.transform(X)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        encode = time.perf_counter() - tic
        row = {
            "label": label,
            "shape": "x".join(map(str, shape[1:])),
            "n": n,
            "trainer": n / statistics.median(trainer_times),
            "plain": n / statistics.median(plain_times),
            "encode": n / encode,
            "precision": str(autocast_dtype(hasher.precision, device) or "float32"),
        }
        if device.startswith("cuda"):
            row["same_weights"], row["codes_agree"] = check_device_moves(hasher, X)
        print(row, flush=True)
        rows.append(row)
    backend_equal = check_torch_backend() if device.startswith("cuda") else None
    return rows, backend_equal


def report(rows, device, backend_equal):
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    lines = [
        f"## Shared trainer vs a plain PyTorch loop, {name} (`benchmarks/gpu.py`)",
        "",
        environment() + (f" GPU: {name}, CUDA {torch.version.cuda}." if name != "CPU" else ""),
        "",
        "Training images/s of the hasher's own `fit` (its DataLoader over uint8 images, "
        "standardisation on the device) and of a hand-written loop over the same network, "
        "batches of 64, Adam and loss, reading a pre-standardised float32 tensor; median of "
        "the epochs after the first, over rounds that alternate the two (after a warm-up "
        "round, not counted). The trainer uses skhash's Adam, the plain loop torch.optim's "
        "(the same update). Target: the "
        "trainer within 5% of the plain loop (ratio >= 0.95); on an H100, ResNet-18 at "
        "224x224 >= 1,500 images/s.",
        "",
        "| network | images | n | precision | trainer (img/s) | plain loop (img/s) | ratio "
        "| encode (img/s) |" + (" GPU pickle on CPU |" if name != "CPU" else ""),
        "|---|---|---:|---|---:|---:|---:|---:|" + ("---|" if name != "CPU" else ""),
    ]
    for r in rows:
        extra = ""
        if "same_weights" in r:
            weights = "equal" if r["same_weights"] else "DIFFER"
            extra = f" weights {weights}, codes {r['codes_agree']:.4f} |"
        lines.append(
            f"| {r['label']} | {r['shape']} | {r['n']:,} | {r['precision']} | {r['trainer']:,.0f} "
            f"| {r['plain']:,.0f} | {r['trainer'] / r['plain']:.3f} | {r['encode']:,.0f} |{extra}"
        )
    if backend_equal is not None:
        lines += ["", f'`HammingIndex(backend="torch")` equals the numba scan: {backend_equal}.']
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows, backend_equal = run(args.device, args.rounds)
    if not args.no_write:
        section = "trainer-" + ("cuda" if args.device.startswith("cuda") else "cpu")
        write_section(section, report(rows, args.device, backend_equal))


if __name__ == "__main__":
    main()
