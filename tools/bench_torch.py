"""The PyTorch reference for `make bench`: the paper's nets (15 x 1064, paper §6) built from the same
layers as resdyn's, timed for training (Adam) and inference on the same thread count and
batch sizes. Prints one `name value` line per figure; tools/bench.sh hands them to the
resdyn benchmark, which prints the ratios. Synthetic data of MNIST's shape: speed does not
depend on pixel values. Usage: bench_torch.py THREADS [fp32] (fp32: without autocast)."""
import sys
import time

import torch
import torch.nn as nn


class PaperNet(nn.Module):
    """Stem 784 -> N, T sigmoid residual layers (shared or per-layer), linear classifier."""

    def __init__(self, width, depth, shared):
        super().__init__()
        self.depth = depth
        self.stem = nn.Linear(784, width)
        count = 1 if shared else depth
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(count))
        self.classifier = nn.Linear(width, 10)
        for layer in self.layers:  # zero residual block and classifier, as resdyn initialises
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, u):
        x = torch.sigmoid(self.stem(u))
        for t in range(self.depth):
            layer = self.layers[0] if len(self.layers) == 1 else self.layers[t]
            x = x + torch.sigmoid(layer(x))
        return self.classifier(x)


def median_seconds(fn, reps):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    float32_only = len(sys.argv) > 2 and sys.argv[2] == "fp32"  # the shared-machine rounds
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for shared, name in ((True, "shared"), (False, "per_layer")):
        net = PaperNet(1064, 15, shared)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        batch = 128
        u = torch.rand(batch, 784)
        labels = torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad()
            loss = loss_fn(net(u), labels)
            loss.backward()
            opt.step()

        def steps():
            for _ in range(8):
                step()

        step()
        print(f"torch_train_{name}_b128 {8 * batch / median_seconds(steps, 3):.1f}", flush=True)
        with torch.no_grad():
            for batch in (1000, 1):
                u = torch.rand(batch, 784)
                reps = 4 if batch > 1 else 400

                def infer():
                    for _ in range(reps):
                        net(u)

                infer()
                print(f"torch_infer_{name}_b{batch} {reps * batch / median_seconds(infer, 3):.1f}", flush=True)
        if float32_only:
            continue
        # Mixed precision as PyTorch offers it on a CPU: matrix products in bfloat16 under
        # autocast, master weights and optimiser state in float32. Left out where this build
        # of PyTorch cannot run it.
        try:
            u = torch.rand(128, 784)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                steps()
                seconds = median_seconds(steps, 3)
            print(f"torch_train_{name}_b128_autocast {8 * 128 / seconds:.1f}", flush=True)
            u = torch.rand(1000, 784)
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):

                def infer_autocast():
                    for _ in range(4):
                        net(u)

                infer_autocast()
                seconds = median_seconds(infer_autocast, 3)
            print(f"torch_infer_{name}_b1000_autocast {4 * 1000 / seconds:.1f}", flush=True)
        except (RuntimeError, AttributeError) as error:
            print(f"autocast to bfloat16 did not run: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
