# attack: exhaust memory: touch ever more pages in a cell, then again during a call
# stopped-by: sandbox
# expect: scale=error add_one=passed cell1=error
# seconds: 60
import torch

_hoard = []
while True:
    _hoard.append(torch.ones(16 * 1024 * 1024, dtype=torch.float64))  # 128 MiB, touched
# %%

def scale(x, factor):
    hoard = []
    while True:
        hoard.append(bytearray(b"x") * (256 * 1024 * 1024))
