"""Is the cells data fast enough to make on the fly? A batch vs a training step, in one run.

    PYTHONPATH=. python benchmarks/bench_cells.py [--batch 8] [--size 64] [--repeat 5]

Times, on the CPU (best of ``--repeat``; wall time, and CPU seconds of this process, which
are steadier on a shared machine but count every BLAS thread of the step):

- *batch*: drawing ``--batch`` new ``SyntheticCells`` images (labels, texture, membranes,
  noise), the flip + elastic augmentation, and U-Net's border weight maps of the deformed
  instances: everything a training step needs that the model does not do;
- *step*: one training step of the model ``minifcn train --data cells`` builds by default
  (U-Net, 8 base channels, depth 3, one input channel, two classes): forward, weighted
  cross-entropy + Dice, backward, Adam.

and prints the ratio batch / step (the target is below 10 %).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minifcn as mf
from minifcn import functional as F
from minifcn import nn, optim
from minifcn.data import Compose, SyntheticCells, random_elastic, random_flip, random_rot90
from minifcn.data.weightmap import border_weight_map
from minifcn.models import UNet
from timing import best_time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    n, size = args.batch, args.size
    augment = Compose([random_flip, random_rot90, random_elastic])
    counter = [0]

    def batch():
        counter[0] += 1        # new pictures every time: a fresh seed
        ds = SyntheticCells(n, image_size=size, seed=counter[0])
        images, masks, instances = (np.stack(a) for a in zip(*(ds[i] for i in range(n))))
        images, labels = augment(np.random.default_rng(counter[0]), images, np.stack([masks, instances], 1))
        return images, labels[:, 0], border_weight_map(labels[:, 1], mask=labels[:, 0])

    images, masks, weights = batch()
    nn.init.manual_seed(0)
    model = UNet(1, 2, base_channels=8, depth=3)
    opt = optim.Adam(model.parameters(), lr=3e-3)

    def step():
        logits = model(mf.tensor(images))
        loss = F.cross_entropy(logits, masks, weight_map=weights) + F.dice_loss(logits, masks)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for name, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        t_batch = best_time(batch, np, args.repeat, clock=clock)
        t_step = best_time(step, np, args.repeat, clock=clock)
        print(f"{name:>4} time: batch of {n} cells images {size}x{size} (draw + flip/rot90/elastic + weight maps) "
              f"{t_batch * 1e3:.1f} ms; U-Net training step (base 8, depth 3) {t_step * 1e3:.1f} ms; "
              f"ratio {t_batch / t_step:.1%}")


if __name__ == "__main__":
    main()
