"""PyTorch (CPU) on mlpkit's benchmark workloads, for the side-by-side tables of npm run bench.

Reads a JSON request on stdin: the workloads (layer sizes, activation, loss, batch, learning
rate, the path of their data written by the benchmark), the thread counts, and how long to
time. For each workload and thread count it builds the same network (torch.nn.Linear layers,
SGD without momentum), checks that the loss falls, then times whole epochs (a fresh
permutation each epoch, as mlpkit shuffles) or inference calls, and prints one JSON line per
result: samples per second at the median of the runs, and the fastest and slowest run.
"""
import ctypes
import json
import statistics
import sys
import time

import numpy as np
import torch


def network(spec):
    layers = []
    fan_in = spec['inputs']
    for units in spec['hidden']:
        layers += [torch.nn.Linear(fan_in, units), torch.nn.ReLU() if spec['activation'] == 'relu' else torch.nn.Sigmoid()]
        fan_in = units
    layers.append(torch.nn.Linear(fan_in, spec['outputs']))
    return torch.nn.Sequential(*layers)


def timed(step, seconds, runs):
    rates = []
    step()  # warm-up
    for _ in range(runs):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            done += step()
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def run(spec, threads, seconds, runs):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.from_numpy(np.fromfile(spec['x'], dtype=np.float32).reshape(-1, spec['inputs']))
    rows = x.shape[0]
    if spec['loss'] == 'cross-entropy':
        y = torch.from_numpy(np.fromfile(spec['y'], dtype=np.int32).astype(np.int64))
        criterion = torch.nn.CrossEntropyLoss()
    else:
        y = torch.from_numpy(np.fromfile(spec['y'], dtype=np.float32).reshape(rows, spec['outputs']))
        criterion = torch.nn.BCEWithLogitsLoss()
    model = network(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=spec['learningRate'])
    batch = spec['batch']

    def epoch():
        order = torch.randperm(rows)
        for start in range(0, rows, batch):
            rows_of = order[start:start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x[rows_of]), y[rows_of])
            loss.backward()
            optimizer.step()
        return rows

    def mean_loss():
        with torch.no_grad():
            return criterion(model(x), y).item()

    if spec['mode'] == 'train':
        before = mean_loss()
        for _ in range(3):
            epoch()
        if not mean_loss() < before:
            raise RuntimeError(f"{spec['id']}: the loss did not fall ({before} -> {mean_loss()})")
        return timed(epoch, seconds, runs)

    inputs = x[:batch]
    calls = max(1, 256 // batch)

    def infer():
        with torch.no_grad():
            for _ in range(calls):
                model(inputs)
        return batch * calls

    return timed(infer, seconds, runs)


def blas():
    """The BLAS torch calls: OpenBLAS names its kernel; anything else is reported by torch's build."""
    try:
        import ctypes.util
        library = ctypes.CDLL(ctypes.util.find_library('blas'))
        library.openblas_get_corename.restype = ctypes.c_char_p
        return 'OpenBLAS ' + library.openblas_get_corename().decode()
    except (OSError, AttributeError, TypeError):
        return 'BLAS ' + ('MKL' if torch.backends.mkl.is_available() else 'generic')


def main():
    request = json.load(sys.stdin)
    print(json.dumps({'version': torch.__version__, 'blas': blas()}), flush=True)
    for spec in request['workloads']:
        for threads in request['threads']:
            median, slowest, fastest = run(spec, threads, request['seconds'], request['runs'])
            print(json.dumps({'id': spec['id'], 'threads': threads, 'median': median, 'min': slowest, 'max': fastest}), flush=True)


if __name__ == '__main__':
    main()
