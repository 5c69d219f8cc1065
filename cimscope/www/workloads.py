"""The GEMM lists of the WWW artifact (github.com/tanvisharma/WWWtoCiM, www-cim/my-inputs/workloads/*.txt,
copied in ../shared/reference/www_artifact/my-inputs/workloads/), row by row as (M, N, K):
Z[M,N] = A[M,K] B[N,K], B the weights. Repeated rows are repeated layers of the network."""
from __future__ import annotations

from collections import Counter

from cimscope.errors import InputError, UnknownNameError

BERT_LARGE = [(512, 1024, 1024), (512, 512, 1024), (512, 1024, 512), (512, 4096, 1024), (512, 1024, 4096)]
GPT_J = [(1, 4096, 4096), (2048, 4096, 4096), (1, 2048, 4096), (1, 4096, 2048), (1, 16384, 4096),
         (1, 4096, 16384)]
DLRM = [(1, 256, 512), (1, 64, 256)]
# resnet.txt: every convolution of ResNet50 as an im2col GEMM and the classifier, batch 1
RESNET50 = [
    (12544, 64, 147), (3136, 64, 64), (3136, 64, 576), (3136, 256, 64), (3136, 64, 256), (3136, 64, 576),
    (3136, 256, 64), (3136, 64, 256), (3136, 64, 576), (3136, 256, 64), (3136, 128, 256), (784, 128, 1152),
    (784, 512, 128), (784, 128, 512), (784, 128, 1152), (784, 512, 128), (784, 128, 512), (784, 128, 1152),
    (784, 512, 128), (784, 128, 512), (784, 128, 1152), (784, 512, 128), (784, 256, 512), (196, 256, 2304),
    (196, 1024, 256), (196, 256, 1024), (196, 256, 2304), (196, 1024, 256), (196, 256, 1024), (196, 256, 2304),
    (196, 1024, 256), (196, 256, 1024), (196, 256, 2304), (196, 1024, 256), (196, 256, 1024), (196, 256, 2304),
    (196, 1024, 256), (196, 256, 1024), (196, 256, 2304), (196, 1024, 256), (196, 512, 1024), (49, 512, 4608),
    (49, 2048, 512), (49, 512, 2048), (49, 512, 4608), (49, 2048, 512), (49, 512, 2048), (49, 512, 4608),
    (49, 2048, 512), (1, 1000, 2048),
]
#: set name -> (workload label as the artifact writes it, rows)
SETS: dict[str, tuple[str, list[tuple[int, int, int]]]] = {
    "bert": ("BERT-Large", BERT_LARGE), "gptj": ("GPT-J", GPT_J), "resnet": ("ResNet50", RESNET50),
    "dlrm": ("DLRM", DLRM),
}


def workload_shapes(name: str) -> dict[str, Counter]:
    """label -> Counter of (M, N, K) for a set name (one of SETS, or ``all``)."""
    if name != "all" and name not in SETS:
        raise UnknownNameError("GEMM set", name, list(SETS) + ["all"])
    chosen = list(SETS) if name == "all" else [name]
    return {SETS[k][0]: Counter(SETS[k][1]) for k in chosen}


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    """``MxNxK[,MxNxK...]`` -> list of shapes; InputError naming the bad item."""
    out = []
    for item in [s.strip() for s in text.split(",") if s.strip()]:
        parts = item.lower().split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise InputError(f"--shapes: {item!r} is not MxNxK with three positive integers (e.g. 512x1024x1024)")
        out.append(tuple(int(p) for p in parts))
    if not out:
        raise InputError("--shapes: give at least one MxNxK")
    return out
