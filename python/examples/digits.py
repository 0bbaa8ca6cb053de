"""Trains the digits MLP (64-256-256-10, ReLU, dropout 0.3 after each hidden
layer, Adam, 60 epochs of batches of 64) once with torch.nn.Dropout and once
with dropkit.torch.Dropout, for 3 seeds, and prints test loss and accuracy.

    python python/examples/digits.py

Data: data/digits.csv (1797 8x8 images), pixels / 16, split by a fixed
permutation (numpy seed 2024) into 1000 training and 797 test rows.
"""

import os
import time

import numpy as np
import torch

import dropkit.torch as dkt

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "digits.csv")


def load():
    raw = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float32)
    perm = np.random.default_rng(2024).permutation(len(raw))
    raw = raw[perm]
    x, y = torch.from_numpy(raw[:, :64] / 16.0), torch.from_numpy(raw[:, 64]).long()
    return (x[:1000], y[:1000]), (x[1000:], y[1000:])


def train(dropout_cls, seed, train_set, test_set, epochs=60):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), dropout_cls(0.3),
        torch.nn.Linear(256, 256), torch.nn.ReLU(), dropout_cls(0.3),
        torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = train_set
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(64):
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        out = net(test_set[0])
        loss = torch.nn.functional.cross_entropy(out, test_set[1]).item()
        acc = (out.argmax(1) == test_set[1]).float().mean().item()
    return loss, acc


def main():
    train_set, test_set = load()
    print(f"{'seed':>4}  {'nn.Dropout loss':>15} {'acc':>7}   {'dropkit loss':>12} {'acc':>7}")
    rows = []
    t0 = time.time()
    for seed in (0, 1, 2):
        a = train(torch.nn.Dropout, seed, train_set, test_set)
        b = train(dkt.Dropout, seed, train_set, test_set)
        rows.append(a + b)
        print(f"{seed:>4}  {a[0]:>15.4f} {a[1]:>7.2%}   {b[0]:>12.4f} {b[1]:>7.2%}")
    m = np.mean(rows, axis=0)
    print(f"mean  {m[0]:>15.4f} {m[1]:>7.2%}   {m[2]:>12.4f} {m[3]:>7.2%}   ({time.time() - t0:.0f} s)")
    assert m[3] > 0.9, "dropkit-trained model below 90% test accuracy"


if __name__ == "__main__":
    main()
