"""Build references.safetensors for the prompt_encoder suite from the reference solution.

Run from anywhere: `python autograder/suites/prompt_encoder/generate_references.py`.
"""

import importlib.util
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OUTPUT = HERE / "references.safetensors"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_references():
    """{`case.<name>.<field>`: tensor} for every case of cases.py, outputs under `.out`."""
    cases = _load("prompt_encoder_cases", HERE / "cases.py")
    solution = _load("prompt_encoder_solution", REPO / "solutions" / "prompt_encoder.py")
    tensors = {}
    for name, (function_name, inputs) in cases.case_inputs().items():
        args = [cases.decode(field, inputs[field]) for field in cases.SIGNATURES[function_name]]
        with torch.no_grad():
            out = getattr(solution, function_name)(*args)
        for field, value in {**inputs, "out": out}.items():
            tensors[f"case.{name}.{field}"] = value.contiguous()
    return tensors


if __name__ == "__main__":
    save_file(build_references(), str(OUTPUT))
    print(f"wrote {OUTPUT}")
