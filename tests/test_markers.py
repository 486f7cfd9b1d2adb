"""The gpu marker: runs where torch sees CUDA, skipped elsewhere (see conftest)."""

import pytest


@pytest.mark.gpu
def test_cuda_matmul_matches_cpu():
    import torch

    a = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose((a.cuda() @ a.cuda()).cpu(), a @ a, atol=1e-3)
